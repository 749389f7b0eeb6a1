"""Issue 4, tests 1 and 2: a backup of prod restored into staging is equal, neutralized and a new
identity; Odoo's own zip is imported, and an exported zip loads back with `odoo db load`."""
import json
import re
import subprocess

import pytest

from dfr_deploy.backup import listing, manifest
from dfr_deploy.commands import backup as backup_commands

from .backup_helpers import (config_params, db_fingerprint, edge_fingerprint, filestore_fingerprint, invoke, seed,
                             seed_edge_cases, sets_of)


@pytest.fixture(scope="module")
def prod(make_stack, tmp_path_factory):
    s = make_stack("prod", BACKUP_DIR=str(tmp_path_factory.mktemp("prod-backups")), BACKUP_JOBS="2")
    s.deploy()
    seed(s)
    seed_edge_cases(s)
    return s


@pytest.fixture(scope="module")
def staging(make_stack, tmp_path_factory, test_images):
    s = make_stack("staging", IMAGE_TAG="prod", BACKUP_DIR=str(tmp_path_factory.mktemp("staging-backups")))
    s.deploy()
    seed(s, rows=10, files=2, marker="staging-before")
    return s


@pytest.fixture(scope="module")
def prod_set(prod):
    result = invoke(prod, "backup")
    assert result.returncode == 0, result.stderr
    sets = sets_of(prod)
    assert len(sets) == 1
    return sets[0]


def test_backup_set_is_complete_and_verified(prod, prod_set):
    data = manifest.verify(prod_set)
    for key in ("odoo_dump", "db_name", "version", "major_version", "pg_version", "modules"):
        assert key in data
    assert data["major_version"] == "18.0" and data["db_name"] == "dfr" and "base" in data["modules"]
    assert data["tool"]["name"] == "dfr-deploy" and data["started_at"] < data["finished_at"]
    assert data["filestore"]["attachments_checked"] == 12 and not data["filestore"]["missing"]
    assert "filestore.tar.zst" in data["files"] and "db/toc.dat" in data["files"]
    assert any(name.endswith(".dat.zst") for name in data["files"])
    # owner-only permissions
    for path in prod_set.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
    rep = listing.report(prod.env, full=True)
    assert [e.name for e in rep["sets"]] == [prod_set.name] and rep["sets"][0].verified


def test_round_trip_prod_to_staging(prod, staging, prod_set):
    before_params = config_params(staging)
    prod_params = config_params(prod)
    result = invoke(staging, "restore", f"--file={prod_set}")
    assert result.returncode == 0, result.stderr
    assert db_fingerprint(staging) == db_fingerprint(prod)
    assert edge_fingerprint(staging) == edge_fingerprint(prod)
    assert filestore_fingerprint(staging) == filestore_fingerprint(prod)
    # the tables were loaded frozen (COPY FREEZE): every page all-visible, no later rewrite
    assert staging.exec_db("SELECT relallvisible = relpages AND relpages > 0 FROM pg_class"
                           " WHERE relname = 'dfr_farmer'") == "t"
    params = config_params(staging)
    assert params["database.is_neutralized"] == "true"
    assert params["database.uuid"] != prod_params["database.uuid"]
    assert params["database.secret"] != prod_params["database.secret"]
    # Odoo's neutralize disables every cron but the auto-vacuum of internal data (fact 4)
    autovacuum = ("SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'autovacuum_job'"
                  " AND model = 'ir.cron'")
    assert staging.exec_db(f"SELECT bool_or(active) FROM ir_cron WHERE id NOT IN ({autovacuum})") == "f"
    assert staging.exec_db(f"SELECT bool_and(active) FROM ir_cron WHERE id IN ({autovacuum})") == "t"
    # the previous staging database is kept and listed
    previous = listing.previous_databases(staging.env)
    assert len(previous) == 1
    assert staging.exec_db("SELECT value FROM dfr_marker", db=previous[0]["name"]) == "staging-before"
    assert before_params["database.uuid"] == config_params(staging, db=previous[0]["name"])["database.uuid"]


def test_odoo_zip_import_and_export(prod, staging, prod_set, tmp_path):
    # Odoo's own zip, made by `odoo db dump` in the prod stack, restored into staging
    code, logs = prod.run_once("odoo", "odoo", "db", "-c", "/run/odoo/odoo.conf", "dump", "dfr", "/var/lib/odoo/dfr.zip")
    assert code == 0, logs
    cid = prod.compose("run", "--detach", "--no-deps", "--entrypoint", "sleep", "odoo", "60")[1].strip().splitlines()[-1]
    try:
        from dfr_deploy.docker import docker
        docker()["cp", f"{cid}:/var/lib/odoo/dfr.zip", str(tmp_path / "dfr.zip")].run(timeout=120)
    finally:
        docker()["rm", "-f", cid].run(retcode=None)
    result = invoke(staging, "restore", f"--file={tmp_path / 'dfr.zip'}", "--drop-previous")
    assert result.returncode == 0, result.stderr
    assert db_fingerprint(staging) == db_fingerprint(prod)
    assert filestore_fingerprint(staging) == filestore_fingerprint(prod)
    assert listing.previous_databases(staging.env) == []
    # export our set as an Odoo zip and load it back with `odoo db load`
    out = backup_commands.export(prod.env, prod_set.name, output=str(tmp_path / "export.zip"))
    import zipfile
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names[0] == "dump.sql" and "manifest.json" in names
        assert json.loads(archive.read("manifest.json"))["major_version"] == "18.0"
    out.chmod(0o644)  # written owner-only (0600); Odoo runs as uid 1000
    staging.compose("cp", str(out), "odoo:/var/lib/odoo/export.zip")
    code, logs = staging.run_once("odoo", "odoo", "db", "-c", "/run/odoo/odoo.conf", "load", "loaded",
                                  "/var/lib/odoo/export.zip")
    assert code == 0, logs
    assert db_fingerprint(staging, db="loaded") == db_fingerprint(prod)
    assert filestore_fingerprint(staging, db="loaded") == filestore_fingerprint(prod)


def test_production_restore_of_its_own_set_links_the_filestore(prod, prod_set):
    """Production needs --force and the typed name; restoring its own set then finds every file
    already in place: hard-linked, so the previous copy costs no disk, and the data is equal."""
    refused = invoke(prod, "restore", f"--file={prod_set}")
    assert refused.returncode == 1 and "add --force" in refused.stderr
    wrong = invoke(prod, "restore", f"--file={prod_set}", "--force", "--confirm=prod")
    assert wrong.returncode == 1 and "is not the database name 'dfr'" in wrong.stderr
    before = (db_fingerprint(prod), edge_fingerprint(prod), filestore_fingerprint(prod))
    result = invoke(prod, "restore", f"--file={prod_set}", "--force", "--confirm=dfr")
    assert result.returncode == 0, result.stderr
    linked = re.search(r"filestore: (\d+) files, (\d+) of them already in place", result.stderr)
    assert linked and int(linked[1]) >= 12 and linked[1] == linked[2], result.stderr
    assert (db_fingerprint(prod), edge_fingerprint(prod), filestore_fingerprint(prod)) == before
    assert config_params(prod).get("database.is_neutralized") != "true"     # production is never neutralized
    previous = listing.previous_databases(prod.env)[0]["name"]
    inodes = prod.compose("exec", "-T", "-u", "1000", "odoo", "sh", "-c",
                          f"cd /var/lib/odoo/filestore && for f in dfr/*/*; do "
                          f"echo $(stat -c %i $f) $(stat -c %i {previous}/${{f#dfr/}}); done")[1].split("\n")
    # The 12 seeded attachments still share their inode with the previous copy (Odoo replaces,
    # never rewrites, the files it regenerates once it runs on the restored copy).
    pairs = [line.split() for line in inodes if line.strip()]
    assert sum(1 for pair in pairs if len(pair) == 2 and pair[0] == pair[1]) >= 12, inodes


def test_pg_dump_files_take_their_files_from_the_live_filestore(prod, staging, tmp_path):
    """A pg_dump file (custom or plain SQL) holds no filestore: each attachment's file is taken
    from the live filestore when it is there with its SHA-1; one that is not stops the restore
    (nothing changed) unless --allow-missing."""
    db_cid = prod.container("db")
    for fmt, name in (("custom", "dfr.dump"), ("plain", "dfr.sql")):
        # to stdout: the container's /tmp is a tmpfs, which `docker cp` cannot read
        with open(tmp_path / name, "wb") as out:
            subprocess.run(["docker", "exec", "-u", "postgres", db_cid, "pg_dump", f"--format={fmt}", "--no-owner",
                            "dfr"], stdout=out, check=True, timeout=300)
    before = (db_fingerprint(prod), filestore_fingerprint(prod))
    for name in ("dfr.dump", "dfr.sql"):
        result = invoke(prod, "restore", f"--file={tmp_path / name}", "--force", "--confirm=dfr", "--drop-previous")
        assert result.returncode == 0, result.stderr
        assert re.search(r"[1-9]\d* attachment file\(s\) taken from the live filestore", result.stderr), result.stderr
        assert (db_fingerprint(prod), filestore_fingerprint(prod)) == before
    # staging holds prod's files (restored above); one of them damaged there
    damaged = staging.compose("exec", "-T", "-u", "1000", "odoo", "sh", "-c",
                              "f=$(ls /var/lib/odoo/filestore/dfr/*/* | head -1) && printf x >> $f && echo $f")[1]
    assert damaged.strip()
    staging_before = db_fingerprint(staging)
    refused = invoke(staging, "restore", f"--file={tmp_path / 'dfr.dump'}")
    assert refused.returncode == 1, refused.stderr
    assert "0 attachment file(s) of the dump are not in the live filestore and 1 there have another SHA-1" in \
        refused.stderr and "--allow-missing" in refused.stderr, refused.stderr
    assert db_fingerprint(staging) == staging_before
    allowed = invoke(staging, "restore", f"--file={tmp_path / 'dfr.dump'}", "--allow-missing", "--drop-previous")
    assert allowed.returncode == 0, allowed.stderr
    assert "1 attachment file(s) missing, restored without them (--allow-missing)" in allowed.stderr
    assert db_fingerprint(staging) == db_fingerprint(prod)
