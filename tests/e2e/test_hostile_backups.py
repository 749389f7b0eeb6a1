"""Issue 12, test 1: a hostile-input corpus. A backup file, an archive, or a row the application
role can write may be an attack; each case ends with a non-zero exit and one clear line (or a
harmless completion), the application role still not superuser, the live database, filestore
and earlier sets unchanged, and nothing written outside the step's scratch folder.

The stack's filestore volume is a small tmpfs, so that an archive expanding past its free space
can be seen stopped before the live site's disk fills.
"""
import io
import json
import shutil
import subprocess
import tarfile
import zipfile

import pytest

from dfr_deploy.backup import manifest, settings
from dfr_deploy.docker import docker

from .backup_helpers import db_fingerprint, filestore_fingerprint, invoke, seed, sets_of

FILESTORE_MB = 64


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory):
    s = make_stack("staging", IMAGE_TAG="prod", BACKUP_DIR=str(tmp_path_factory.mktemp("hostile-backups")),
                   BACKUP_RESERVE_MB="8")
    # The filestore volume on a small file system of its own (a tmpfs mounted on the host, bound
    # into a volume made the way compose would have made it: a tmpfs-type docker volume would
    # be emptied whenever no container uses it, as during a restore's swap).
    project = s.env.project_name
    disk = tmp_path_factory.mktemp("filestore-disk")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FILESTORE_MB}m,uid=1000,gid=1000,mode=0750", "tmpfs",
                    str(disk)], check=True)
    try:
        docker()["volume", "create", "--driver", "local", "--opt", "type=none", "--opt", f"device={disk}",
                 "--opt", "o=bind", "--label", f"com.docker.compose.project={project}",
                 "--label", "com.docker.compose.volume=odoo_data", f"{project}_odoo_data"].run(timeout=60)
        s.deploy()
        seed(s, rows=200, files=3, marker="live")
        result = invoke(s, "backup")
        assert result.returncode == 0, result.stderr
        yield s
    finally:
        s.remove()
        subprocess.run(["umount", str(disk)], check=False)


def superusers(stack):
    return stack.exec_db("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolsuper", db="postgres")


@pytest.fixture
def unchanged(stack):
    """What must hold after every case: no new superuser, the live data and the sets as before,
    no side copy, no sandbox role, nothing left in BACKUP_DIR but the sets."""
    folder = settings.backup_dir(stack.env)
    before = (db_fingerprint(stack), filestore_fingerprint(stack), superusers(stack),
              [(p.name, manifest.verify(p)["files"]) for p in sets_of(stack)])
    yield
    after = (db_fingerprint(stack), filestore_fingerprint(stack), superusers(stack),
             [(p.name, manifest.verify(p)["files"]) for p in sets_of(stack)])
    assert after == before
    assert superusers(stack) == "postgres"
    assert stack.exec_db("SELECT count(*) FROM pg_database WHERE datname LIKE 'dfr\\_restore\\_%'") == "0"
    assert stack.exec_db("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'dfr\\_restore\\_%' OR rolname LIKE 'evil%'"
                         " OR rolname LIKE 'dfr\\_pwned%'") == "0"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".lock")) == \
        sorted(p.name for p in sets_of(stack))
    folders = stack.compose("exec", "-T", "-u", "1000", "odoo", "ls", "/var/lib/odoo/filestore")[1].split()
    assert folders == ["dfr"], folders


def refused(result, *fragments):
    assert result.returncode != 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, result.stderr
    return last


ODOO_MANIFEST = {"odoo_dump": "1", "db_name": "dfr", "version": "18.0", "major_version": "18.0", "pg_version": "15.0",
                 "modules": {"base": "18.0.1.3"}}


def odoo_zip(path, sql, files=None, raw_members=()):
    """An Odoo zip: dump.sql, filestore/..., manifest.json; raw_members: (ZipInfo, bytes)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dump.sql", sql)
        for name, data in (files or {}).items():
            archive.writestr(f"filestore/{name}", data)
        for info, data in raw_members:
            archive.writestr(info, data)
        archive.writestr("manifest.json", json.dumps(ODOO_MANIFEST))
    return path


SQL_CASES = {
    "shell": ("CREATE TABLE t (id int);\n\\! touch /out/pwned\n", "psql meta-command \\!"),
    "connect": ("CREATE TABLE t (id int);\n\\connect dfr\nCREATE TABLE pwned (id int);\n", "psql meta-command \\connect"),
    "mid-line": ("SELECT 1 \\gset\n", "psql meta-command \\gset"),
    "copy-data": ("COPY public.t (id) FROM stdin;\n1\n\\! id\n\\.\n", "COPY data line"),
    "include": ("\\i /etc/passwd\n", "psql meta-command \\i"),
    "superuser-role": ("CREATE ROLE evil SUPERUSER LOGIN PASSWORD 'evil-password-123';\n",
                       "must be superuser to create superusers"),
    "any-role": ("CREATE ROLE evil LOGIN PASSWORD 'evil-password-123';\n", "permission denied to create role"),
    "escalate-application-role": ("ALTER ROLE odoo SUPERUSER;\n", "must be superuser to alter superuser roles"),
    "grant-application-role": ("GRANT odoo TO CURRENT_USER;\n", "must have admin option on role"),
    "live-database": ("ALTER DATABASE dfr RENAME TO dfr_gone;\n", "must be owner"),
    "drop-live": ("DROP DATABASE dfr;\n", "DROP DATABASE"),
    "new-database": ("CREATE DATABASE evil;\n", "CREATE DATABASE cannot run inside a transaction block"),
    "program": ("COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned';\n", "COPY to or from an external program"),
}


@pytest.mark.parametrize("case", sorted(SQL_CASES))
def test_a_backups_sql_runs_in_a_sandbox_and_no_meta_command_runs(stack, unchanged, tmp_path, case):
    sql, fragment = SQL_CASES[case]
    result = invoke(stack, "restore", f"--file={odoo_zip(tmp_path / f'{case}.zip', sql)}")
    last = refused(result, fragment)
    if "meta-command" in fragment or "COPY data" in fragment:
        assert "nothing was restored" in last   # refused by the pre-scan, before psql ran anything


ESCALATE = """
CREATE FUNCTION public.escalate() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  BEGIN EXECUTE 'ALTER ROLE odoo SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
  BEGIN EXECUTE 'CREATE ROLE dfr_pwned SUPERUSER LOGIN'; EXCEPTION WHEN OTHERS THEN NULL; END;
  RETURN;
END $$;
"""


def test_a_restored_object_that_runs_code_when_read_runs_without_rights(stack, unchanged, tmp_path):
    """ir_attachment is a view over a function that makes itself superuser if whoever reads it
    may: the restore reads it as the sandbox role, which may not."""
    sql = ESCALATE + "CREATE VIEW public.ir_attachment AS SELECT s AS store_fname, s AS checksum FROM public.escalate() s;\n"
    result = invoke(stack, "restore", f"--file={odoo_zip(tmp_path / 'trap.zip', sql)}")
    assert result.returncode != 0   # it is no Odoo database: the neutralize refuses it, harmlessly
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_a_live_table_replaced_by_a_trap_before_a_backup_runs_without_rights(stack, unchanged):
    """What the application role (or an SQL injection in an addon) can do to the live database:
    ir_module_module becomes a view over a function that escalates if the reader may. The
    nightly backup reads it as the application role: it completes, harmlessly."""
    stack.exec_db("SET ROLE odoo;" + ESCALATE.replace("RETURNS SETOF text", "RETURNS SETOF text") +
                  "ALTER TABLE ir_module_module RENAME TO ir_module_module_real;"
                  "CREATE FUNCTION public.modules() RETURNS SETOF ir_module_module_real LANGUAGE plpgsql AS $$"
                  " BEGIN PERFORM public.escalate(); RETURN QUERY SELECT * FROM ir_module_module_real; END $$;"
                  "CREATE VIEW ir_module_module AS SELECT * FROM public.modules();")
    try:
        result = invoke(stack, "backup")
        assert result.returncode == 0, result.stderr
        assert superusers(stack) == "postgres"
        newest = sets_of(stack)[-1]
        assert manifest.verify(newest)["modules"].get("base"), "the modules were read (as the application role)"
        shutil.rmtree(newest)
    finally:
        stack.exec_db("DROP VIEW ir_module_module; DROP FUNCTION public.modules(); DROP FUNCTION public.escalate();"
                      "ALTER TABLE ir_module_module_real RENAME TO ir_module_module;")


def hostile_set(stack, tmp_path, build):
    """A copy of the good set whose filestore archive `build(tarfile)` wrote, checksums made to
    match (what only a forger or a broken tool produces)."""
    good = sets_of(stack)[-1]
    copy = tmp_path / good.name
    shutil.copytree(good, copy)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        build(tar)
    plain = tmp_path / "filestore.tar"
    plain.write_bytes(raw.getvalue())
    (copy / "filestore.tar.zst").unlink()
    subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "0", "-v", f"{tmp_path}:/w",
                    stack.env.image("backup"), "zstd", "-q", "/w/filestore.tar", "-o",
                    f"/w/{good.name}/filestore.tar.zst"], check=True, timeout=120)
    data = manifest.load(copy)
    data["files"] = manifest.hash_files(copy)
    manifest.write(copy, data)
    return copy


def add(tar, name, kind=tarfile.REGTYPE, data=b"x", mode=0o644, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


ARCHIVE_CASES = {
    "symlink": (lambda t: add(t, "./ab/evil", tarfile.SYMTYPE, link="/etc/passwd"), "symbolic link"),
    "hard-link": (lambda t: (add(t, "./ab/x"), add(t, "./ab/y", tarfile.LNKTYPE, link="/etc/shadow")), "hard link"),
    "device": (lambda t: add(t, "./ab/sda", tarfile.BLKTYPE), "device"),
    "fifo": (lambda t: add(t, "./ab/pipe", tarfile.FIFOTYPE), "FIFO"),
    "parent": (lambda t: add(t, "./ab/../../escaped"), ".."),
    "absolute": (lambda t: add(t, "/etc/cron.d/evil"), "absolute"),
}


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_an_archive_holding_anything_but_files_and_folders_is_refused(stack, unchanged, tmp_path, case):
    build, fragment = ARCHIVE_CASES[case]
    result = invoke(stack, "restore", f"--file={hostile_set(stack, tmp_path, build)}")
    last = refused(result, "nothing was restored")
    assert fragment.lower() in last.lower(), last


def test_a_setuid_world_writable_file_is_restored_with_plain_modes(stack, tmp_path):
    """Harmless completion: the files are restored, their modes normalised (as Odoo writes them)."""
    copy = hostile_set(stack, tmp_path, lambda t: (add(t, "./zz/setuid", mode=0o6777), add(t, "./zz/setgid", mode=0o2755)))
    result = invoke(stack, "restore", f"--file={copy}", "--allow-missing", "--drop-previous")
    assert result.returncode == 0, result.stderr
    code, out, err = stack.compose("exec", "-T", "-u", "1000", "odoo", "stat", "-c", "%a",
                                   "/var/lib/odoo/filestore/dfr/zz", "/var/lib/odoo/filestore/dfr/zz/setuid",
                                   "/var/lib/odoo/filestore/dfr/zz/setgid", retcode=None)
    modes = out.split()
    assert code == 0 and modes, (code, out, err, result.stderr)
    assert modes == ["755", "644", "644"]
    assert superusers(stack) == "postgres"
    # the live data back as it was, for the cases after this one
    result = invoke(stack, "restore", f"--file={sets_of(stack)[-1]}", "--drop-previous")
    assert result.returncode == 0, result.stderr


def test_an_archive_that_would_fill_the_filestore_volume_is_stopped_in_time(stack, unchanged, tmp_path):
    """100 MB of zeros (a 100 kB zip) into a 64 MB filestore volume: the unpacker counts real
    bytes against the real free space and stops, keeping BACKUP_RESERVE_MB free, then cleans up."""
    info = zipfile.ZipInfo("filestore/ab/bomb")
    info.compress_type = zipfile.ZIP_DEFLATED
    bomb = odoo_zip(tmp_path / "bomb.zip", "CREATE TABLE t (id int);\n", raw_members=[(info, bytes(100 << 20))])
    assert bomb.stat().st_size < 1 << 20
    result = invoke(stack, "restore", f"--file={bomb}")
    refused(result, "free", "nothing was restored")
    free = stack.compose("exec", "-T", "-u", "1000", "odoo", "stat", "-f", "-c", "%a %S", "/var/lib/odoo")[1].split()
    assert int(free[0]) * int(free[1]) > 8 << 20, "the reserve was kept"
