"""Issue 4, test 3: the fault matrix. Each fault exits non-zero with a clear message, publishes
no set, and leaves earlier sets and the target database intact."""
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from dfr_deploy import environments
from dfr_deploy.backup import listing, lock, manifest, publish, settings
from dfr_deploy.backup.restore import swap as restore_swap
from dfr_deploy.docker import docker

from .backup_helpers import db_fingerprint, filestore_fingerprint, invoke, seed, sets_of
from .http import wait_until


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory):
    s = make_stack("staging", IMAGE_TAG="prod", BACKUP_DIR=str(tmp_path_factory.mktemp("backups")),
                   BACKUP_JOBS="2")
    s.deploy()
    seed(s, rows=3000, files=6, marker="live")
    return s


@pytest.fixture(scope="module")
def good_set(stack):
    result = invoke(stack, "backup")
    assert result.returncode == 0, result.stderr
    return sets_of(stack)[-1]


@pytest.fixture
def intact(stack):
    """Snapshot of what must not change: the live database, its filestore, the sets."""
    before = (db_fingerprint(stack), filestore_fingerprint(stack), [(p.name, manifest.verify(p)["files"])
                                                                    for p in sets_of(stack)])
    yield
    after = (db_fingerprint(stack), filestore_fingerprint(stack), [(p.name, manifest.verify(p)["files"])
                                                                   for p in sets_of(stack)])
    assert after == before
    assert stack.exec_db("SELECT count(*) FROM pg_database WHERE datname LIKE 'dfr\\_restore\\_%'") == "0"
    assert not list(settings.backup_dir(stack.env).glob(".tmp-*"))


def failed(result, *fragments):
    assert result.returncode != 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, result.stderr
    return last


def copy_set(good_set, tmp_path):
    target = tmp_path / good_set.name
    shutil.copytree(good_set, target)
    return target


def test_pg_dump_killed_mid_run(stack, good_set, intact):
    # An open transaction holding a table lock makes pg_dump wait, so it can be killed mid-run.
    db = stack.container("db")
    docker()["exec", "-d", "-u", "postgres", db, "psql", "-d", "dfr", "-c",
             "BEGIN; LOCK TABLE dfr_plot IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);"].run(timeout=60)
    env = dict(os.environ, **{k: str(v) for k, v in stack.env.overrides.items()})
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "invoke"), "backup", "--env=staging"],
                            cwd=str(environments.ROOT), env=env, stderr=subprocess.PIPE, text=True)
    try:
        def pg_dump_pid():
            cids = docker()["ps", "-q", "--filter", f"label=dfr.backup.project={stack.env.project_name}",
                            "--filter", "label=dfr.backup.step=pg_dump"].run(timeout=60)[1].split()
            for cid in cids:
                for line in docker()["top", cid, "-eo", "pid,comm"].run(retcode=None, timeout=60)[1].splitlines()[1:]:
                    pid, comm = line.split(None, 1)
                    if comm.strip() == "pg_dump":
                        return int(pid)
            return None

        wait_until(lambda: pg_dump_pid() is not None, 60, what="pg_dump to start")
        time.sleep(1)
        os.kill(pg_dump_pid(), signal.SIGKILL)  # the real pg_dump process, from the host
        _, err = proc.communicate(timeout=120)
    finally:
        stack.exec_db("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%'"
                      " AND pid <> pg_backend_pid()")
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "error: pg_dump failed" in err and "killed by signal 9" in err, err


def test_backup_disk_full(stack, good_set, tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(folder)], check=True)
    try:
        small = {"BACKUP_DIR": str(folder)}
        assert invoke(stack, "backup", extra_env=small).returncode == 0
        first = [p for p in folder.iterdir() if not p.name.startswith(".")]
        st = os.statvfs(folder)
        # leave about 40 kB: less than a third of the set (~110 kB), wherever the dump stops
        with open(folder / ".filler", "wb") as handle:
            handle.write(b"\0" * (st.f_bavail * st.f_frsize - 40_000))
        result = invoke(stack, "backup", extra_env=small)
        failed(result, "No space left on device")
        assert [p for p in folder.iterdir() if not p.name.startswith(".")] == first
        assert not list(folder.glob(".tmp-*"))
        manifest.verify(first[0])
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_missing_or_altered_attachment_is_reported_and_not_published(stack, good_set):
    """Every store_fname of the dump must be in the filestore archive with its SHA-1: one file
    gone and one altered make the backup fail with both counted, publishing nothing; with
    --allow-missing the set is published and records them."""
    names = stack.exec_db("SELECT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL"
                          " ORDER BY id LIMIT 2").split()
    gone, altered = (f"/var/lib/odoo/filestore/dfr/{n}" for n in names)
    fault = (f"mv {gone} {gone}.aside && cp -p {altered} {altered}.orig && printf x >> {altered}")
    repair = f"mv {gone}.aside {gone}; if [ -e {altered}.orig ]; then mv {altered}.orig {altered}; fi"
    before = sets_of(stack)
    stack.compose("exec", "-T", "-u", "1000", "odoo", "sh", "-c", fault)
    try:
        last = failed(invoke(stack, "backup"), "1 attachment(s) missing and 1 with a wrong SHA-1",
                      "nothing was published")
        assert names[0] in last or names[1] in last, last
        assert sets_of(stack) == before
        assert not list(settings.backup_dir(stack.env).glob(".tmp-*"))
        allowed = invoke(stack, "backup", "--allow-missing")
        assert allowed.returncode == 0, allowed.stderr
        recorded = manifest.verify(sets_of(stack)[-1])["filestore"]
        assert (recorded["missing"], recorded["mismatched"]) == ([names[0]], [names[1]])
    finally:
        stack.compose("exec", "-T", "-u", "1000", "odoo", "sh", "-c", repair)
    for extra in sets_of(stack)[len(before):]:
        publish.discard(extra)


def test_flipped_byte_is_refused(stack, good_set, intact, tmp_path):
    damaged = copy_set(good_set, tmp_path)
    target = max((damaged / "db").glob("*.dat.zst"), key=lambda p: p.stat().st_size)
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    target.write_bytes(bytes(raw))
    failed(invoke(stack, "restore", f"--file={damaged}"), "damaged", "does not match its SHA-256", "nothing was changed")


def test_truncated_file_is_refused(stack, good_set, intact, tmp_path):
    damaged = copy_set(good_set, tmp_path)
    with open(damaged / "filestore.tar.zst", "r+b") as handle:
        handle.truncate(100)
    failed(invoke(stack, "restore", f"--file={damaged}"), "filestore.tar.zst has 100 bytes", "truncated")


def test_rows_the_database_refuses_stop_the_load_and_drop_the_side_copy(stack, good_set, intact, tmp_path):
    """A set whose checksums hold but whose data PostgreSQL rejects (written by a faulty tool,
    say): the table's COPY fails, the restore names it and removes the side database."""
    bad = copy_set(good_set, tmp_path)
    # In the tools image: the first farmer's id made text in its data file, recompressed.
    script = ('for f in /set/db/*.dat.zst; do if zstd -dcq "$f" | grep -q "Farmer 1 "; then '
              'zstd -dcq "$f" | sed "1s/^[0-9]*\\t/x\\t/" > /tmp/t && '
              'zstd -qf /tmp/t -o "$f" && chown --reference=/set "$f" && echo "$f"; fi; done')
    out = docker()["run", "--rm", "--network", "none", "--user", "0", "-v", f"{bad}:/set", stack.env.image("backup"),
                   "sh", "-c", script].run(timeout=120)[1]
    assert out.strip(), "the farmers' data file was not found"
    data = manifest.load(bad)
    data["files"] = manifest.hash_files(bad)
    manifest.write(bad, data)
    last = failed(invoke(stack, "restore", f"--file={bad}"), "loading public.dfr_farmer", "psql")
    assert "invalid input syntax for type integer" in last, last


def test_not_a_backup_is_refused(stack, good_set, intact, tmp_path):
    (tmp_path / "holiday.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000))
    failed(invoke(stack, "restore", f"--file={tmp_path / 'holiday.jpg'}"), "is not a backup")


def test_odoo_major_mismatch_is_refused(stack, good_set, intact, tmp_path):
    sql = ("--\n-- PostgreSQL database dump\n--\n-- Dumped from database version 15.8\n"
           "CREATE TABLE x (id int);\n--\n-- PostgreSQL database dump complete\n--\n")
    with zipfile.ZipFile(tmp_path / "odoo17.zip", "w") as archive:
        archive.writestr("dump.sql", sql)
        archive.writestr("manifest.json", '{"odoo_dump": "1", "major_version": "17.0", "pg_version": "15.8",'
                                          ' "db_name": "x", "version": "17.0", "modules": {}}')
    failed(invoke(stack, "restore", f"--file={tmp_path / 'odoo17.zip'}"),
           "the backup is from Odoo 17.0 but staging runs Odoo 18.0")


def test_two_operations_at_once(stack, good_set, intact):
    folder = settings.backup_dir(stack.env)
    with lock.held(folder, "backup", "staging"):
        last = failed(invoke(stack, "backup"), "another backup operation of staging is running: backup",
                      f"pid {os.getpid()}")
        assert "wait for it to finish" in last
        failed(invoke(stack, "restore", f"--file={good_set}"), "another backup operation of staging is running")


def test_wrong_age_key_and_right_key(stack, good_set, tmp_path):
    def keygen(name):
        out = docker()["run", "--rm", "--network", "none", stack.env.image("backup"), "age-keygen"].run(
            timeout=60)[1]
        path = tmp_path / name
        path.write_text(out)
        path.chmod(0o600)
        return path, next(l.split(": ")[1] for l in out.splitlines() if l.startswith("# public key: "))

    right, right_public = keygen("right.key")
    wrong, _ = keygen("wrong.key")
    result = invoke(stack, "backup", extra_env={"BACKUP_AGE_RECIPIENTS": right_public})
    assert result.returncode == 0, result.stderr
    sealed = sets_of(stack)[-1]
    assert [p.name for p in sealed.iterdir()] == sorted(["manifest.json", "set.tar.age"]) or \
        sorted(p.name for p in sealed.iterdir()) == ["manifest.json", "set.tar.age"]
    assert manifest.verify(sealed)["encrypted"]["tool"] == "age"
    before = db_fingerprint(stack)
    failed(invoke(stack, "restore", f"--file={sealed}", f"--identity={wrong}"), "wrong key", "nothing was changed")
    assert db_fingerprint(stack) == before
    # the right key restores it (and the live copy is the same data again)
    result = invoke(stack, "restore", f"--file={sealed}", f"--identity={right}", "--drop-previous")
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in db_fingerprint(stack).items()} == before


def test_restore_killed_between_rename_and_start_brings_the_previous_back(stack, good_set, tmp_path):
    stack.exec_db("UPDATE dfr_marker SET value = 'changed after the backup'")
    before = db_fingerprint(stack), filestore_fingerprint(stack)
    result = invoke(stack, "restore", f"--file={good_set}", extra_env={"DFR_TEST_KILL_AT": "after-rename"})
    assert result.returncode == -signal.SIGKILL, result.stderr
    # the process died with the backup's database in place and Odoo stopped
    assert stack.exec_db("SELECT value FROM dfr_marker") == "live"
    # the next backup operation finds the journal and puts the previous database back first
    result = invoke(stack, "backup")
    assert result.returncode == 0, result.stderr
    assert "putting the previous database back" in result.stderr
    assert (db_fingerprint(stack), filestore_fingerprint(stack)) == before
    assert stack.exec_db("SELECT count(*) FROM pg_database WHERE datname LIKE 'dfr\\_restore\\_%'") == "0"
    cid = stack.container("odoo")
    assert docker()["inspect", "-f", "{{.State.Health.Status}}", cid].run(timeout=60)[1].strip() == "healthy"


def test_deploy_after_a_restore_killed_with_odoo_started_puts_it_right_and_keeps_both(stack, good_set):
    """Killed once Odoo ran on the restored copy: users may already have written to it. The
    next `invoke deploy` puts the previous database back before the stack starts, and keeps the
    restored copy (with what was written to it) as the previous copy - nothing is dropped."""
    stack.exec_db("UPDATE dfr_marker SET value = 'before the restore'")
    before = db_fingerprint(stack), filestore_fingerprint(stack)
    result = invoke(stack, "restore", f"--file={good_set}", extra_env={"DFR_TEST_KILL_AT": "after-start"})
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert stack.exec_db("SELECT value FROM dfr_marker") == "live"      # Odoo runs on the backup's data
    stack.exec_db("UPDATE dfr_marker SET value = 'written on the restored copy'")
    # the first deploy dies too, once the previous database is back: the next one must not
    # swap the restored copy in again
    result = invoke(stack, "deploy", extra_env={"DFR_TEST_KILL_AT": "recovered-previous"})
    assert result.returncode == -signal.SIGKILL, result.stderr
    result = invoke(stack, "deploy")
    assert result.returncode == 0, result.stderr
    assert "putting it right before the stack starts" in result.stderr, result.stderr
    assert (db_fingerprint(stack), filestore_fingerprint(stack)) == before
    kept = [entry["name"] for entry in listing.previous_databases(stack.env)]
    assert "written on the restored copy" in [stack.exec_db("SELECT value FROM dfr_marker", db=name) for name in kept]
    assert not (settings.backup_dir(stack.env) / restore_swap.JOURNAL).exists()
    cid = stack.container("odoo")
    assert docker()["inspect", "-f", "{{.State.Health.Status}}", cid].run(timeout=60)[1].strip() == "healthy"


def test_database_down(stack, good_set, intact_after_db_down=None):
    sets = [p.name for p in sets_of(stack)]
    before = db_fingerprint(stack)
    stack.compose("stop", "db")
    try:
        failed(invoke(stack, "backup"), "the database of staging is not running", "invoke deploy --env=staging")
        failed(invoke(stack, "restore", f"--file={good_set}"), "the database of staging is not running")
    finally:
        stack.compose("start", "db")
        db = stack.container("db")
        wait_until(lambda: docker()["inspect", "-f", "{{.State.Health.Status}}", db].run(timeout=60)[1].strip()
                   == "healthy", 120, what="db healthy again")
    assert [p.name for p in sets_of(stack)] == sets
    assert not list(settings.backup_dir(stack.env).glob(".tmp-*"))
    assert db_fingerprint(stack) == before


def test_offsite_copy_to_a_local_remote_is_checked_and_listed(stack, good_set, tmp_path):
    remote = tmp_path / "offsite"
    result = invoke(stack, "backup", extra_env={"BACKUP_RCLONE_REMOTE": str(remote)})
    assert result.returncode == 0, result.stderr
    newest = sets_of(stack)[-1]
    copied = remote / newest.name
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file()) == \
        sorted(manifest.load(newest)["files"]) + ["manifest.json"]
    listed = invoke(stack, "backups")
    assert f"copied to: {remote}" in listed.stdout


def test_retention_dry_run_then_prune_keeps_the_newest_verified(stack, good_set):
    names = [p.name for p in sets_of(stack)]
    assert len(names) >= 3
    dry = invoke(stack, "backup-prune", "--dry-run", "--daily=1", "--weekly=0", "--monthly=0")
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.count("would remove") == len(names) - 1
    assert [p.name for p in sets_of(stack)] == names
    result = invoke(stack, "backup-prune", "--daily=1", "--weekly=0", "--monthly=0")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in sets_of(stack)] == [names[-1]]
