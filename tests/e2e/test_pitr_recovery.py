"""Issue 5, tests 1-4: point-in-time recovery on a real PostgreSQL stack (staging, so restored
copies are neutralized), with a 5 s archive_timeout to keep the tests short.

The tests share one stack and run in order: exactness (which also swaps a recovered volume in),
--latest after the data volume is destroyed, an archive that cannot be written for a while, and
a corrupted archived segment.
"""
import hashlib
import json
import os
import random
import re
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone

import pytest
from dotenv import dotenv_values

from dfr_deploy import labels
from dfr_deploy.backup import manifest, settings
from dfr_deploy.backup.pitr import recovery, swap, timelines, volumes
from dfr_deploy.backup.pitr.target import parse_target
from dfr_deploy.backup.runner import Runner
from dfr_deploy.backup.wal import archive, names as wal_names, status as wal_status
from dfr_deploy.commands import backup as backup_commands
from dfr_deploy.commands import restore as restore_commands
from dfr_deploy.docker import docker, volume_exists
from dfr_deploy.stack import database, odoo
from dfr_deploy.stack.database import Catalog
from dfr_deploy.errors import DfrError

from .backup_helpers import filestore_fingerprint, invoke, sets_of
from .http import request

ARCHIVE_TIMEOUT = 5


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory):
    s = make_stack("staging", IMAGE_TAG="prod", POSTGRES_ARCHIVE_TIMEOUT=str(ARCHIVE_TIMEOUT),
                   BACKUP_DIR=str(tmp_path_factory.mktemp("pitr-backups")), BACKUP_JOBS="2")
    s.deploy()
    # Exact commit times: the same timestamp PostgreSQL writes into each commit record.
    s.exec_db("ALTER SYSTEM SET track_commit_timestamp = on", db="postgres")
    s.compose("restart", "db")
    database.up(s.env)
    s.exec_db("CREATE TABLE probe (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT clock_timestamp())")
    yield s
    s.remove()
    project = s.env.project_name
    for cid in docker()["ps", "-aq", "--filter", f"label={labels.PITR}={project}"].run(retcode=None)[1].split():
        docker()["rm", "-f", cid].run(retcode=None)
    names = docker()["volume", "ls", "-q", "--filter", f"name={project}_"].run(retcode=None)[1].split()
    for name in names:
        docker()["volume", "rm", "-f", name].run(retcode=None)


def base_backup(stack):
    return backup_commands.backup(stack.env, method="basebackup", encrypt=False, copy_offsite=False)


def list_archive(stack):
    runner = Runner(stack.env, reader=True)
    try:
        return archive.list_files(stack.env, runner)
    finally:
        runner.close()


def writer(stack, rows, pause=0.02):
    """A psql session inserting one row per transaction, `pause` s apart (bounded by `rows`)."""
    script = tempfile.TemporaryFile("w+")
    script.write("".join(f"INSERT INTO probe DEFAULT VALUES; SELECT pg_sleep({pause});\n" for _ in range(rows)))
    script.seek(0)
    cid = stack.container("db")
    # From a file, so psql reads at its own pace and this returns at once.
    process = subprocess.Popen(["docker", "exec", "-i", "-u", "postgres", cid, "psql", "-X", "-q", "-d", "dfr"],
                               stdin=script, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    script.close()
    return process


def commit_times(stack):
    out = stack.exec_db("SELECT id || ' ' || to_char(pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC',"
                        " 'YYYY-MM-DD HH24:MI:SS.US') FROM probe ORDER BY id")
    result = {}
    for line in out.splitlines():
        number, stamp = line.split(" ", 1)
        result[int(number)] = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return result


def ids(text):
    return {int(x) for x in text.split(",") if x}


def test_recovers_exactly_to_five_random_times(stack):
    rng = random.Random(5)
    process = writer(stack, rows=1400)
    time.sleep(4)
    folder = base_backup(stack)
    process.wait(timeout=180)
    assert process.returncode == 0
    runner = Runner(stack.env)
    assert recovery.archive_now(Catalog(stack.env))
    committed = commit_times(stack)
    data = json.loads((folder / "manifest.json").read_text())
    start = manifest.parse_time(data["wal"]["consistent_at"])
    after = sorted(t for t in committed.values() if t > start)
    assert len(after) > 300, "the writer must keep writing after the base backup"
    # Two targets exactly on a commit (inclusive: that row is in), three anywhere in between.
    targets = [rng.choice(after), rng.choice(after)]
    span = (after[-1] - start).total_seconds()
    targets += [start + timedelta(seconds=rng.uniform(0.5, span)) for _ in range(3)]
    rng.shuffle(targets)
    for number, target in enumerate(targets):
        expected = {i for i, t in committed.items() if t <= target}
        if number < len(targets) - 1:
            with recovery.recovered(stack.env, runner, parse_target(to_time=target)) as (server, info):
                got = ids(server.psql("SELECT string_agg(id::text, ',') FROM public.probe", db="dfr")[0] or "")
        else:  # the last one all the way: swapped in, neutralized, Odoo healthy
            previous = stack.env.postgres_volume
            restore_commands.restore(stack.env, to_time=target)
            got = ids(stack.exec_db("SELECT string_agg(id::text, ',') FROM probe"))
            assert stack.env.postgres_volume != previous
            assert volume_exists(previous), "the replaced volume is kept"
            assert stack.exec_db("SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'") == "true"
        lost, extra = expected - got, got - expected
        assert (len(lost), len(extra)) == (0, 0), f"target {target}: lost {sorted(lost)[:5]}, extra {sorted(extra)[:5]}"
    runner.close()


def test_target_outside_the_window_is_refused_with_the_window(stack):
    with pytest.raises(DfrError, match=r"outside the recoverable window .* \.\. .*nothing was changed"):
        restore_commands.restore(stack.env, to_time="2001-01-01 00:00:00+00")


def test_latest_after_the_volume_is_lost_loses_at_most_archive_timeout(stack):
    first = int(stack.exec_db("SELECT coalesce(max(id), 0) FROM probe"))
    process = writer(stack, rows=3000)
    time.sleep(12)
    cid = stack.container("db")
    docker()["kill", cid].run(timeout=60)            # the host dies: no shutdown, no last archiving
    lost_at = datetime.now(timezone.utc)
    process.wait(timeout=60)
    stack.compose("rm", "-f", "-s", "db")
    docker()["volume", "rm", stack.env.postgres_volume].run(timeout=60)   # and its disk with it
    restore_commands.restore(stack.env, latest=True)
    newest = datetime.strptime(stack.exec_db(
        "SELECT to_char(max(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM probe"),
        "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    # archive_timeout, plus the time to compress and publish a segment (and the kill's own latency)
    assert (lost_at - newest).total_seconds() <= ARCHIVE_TIMEOUT + 3
    # One session, one row per transaction: the rows written since `first` must have consecutive
    # ids (only the first may jump: sequences are WAL-logged 32 values ahead) - nothing lost in between.
    count, low, high = map(int, stack.exec_db(
        f"SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM probe WHERE id > {first}").split())
    assert count > 200 and high - low + 1 == count


def test_unwritable_archive_keeps_segments_and_reports_failures(stack):
    cid = stack.container("db")
    docker()["exec", "-u", "root", cid, "chmod", "0500", "/wal_archive"].run(timeout=60)
    try:
        for _ in range(3):
            stack.exec_db("INSERT INTO probe DEFAULT VALUES; SELECT pg_switch_wal();")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            report = wal_status.status(stack.env)
            if report["server"]["failed_count"] > 0:
                break
            time.sleep(1)
        assert report["server"]["failing_now"] and report["server"]["waiting"] >= 1
        text = invoke(stack, "wal-status")
        assert text.returncode == 0, text.stderr
        assert "FAILING NOW" in text.stdout and "waiting in pg_wal" in text.stdout
        last = stack.exec_db("SELECT pg_walfile_name(pg_current_wal_lsn())")
    finally:
        docker()["exec", "-u", "root", cid, "chmod", "0700", "/wal_archive"].run(timeout=60)
    switched = stack.exec_db("SELECT pg_walfile_name(pg_switch_wal())")  # wakes the archiver up
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        report = wal_status.status(stack.env)
        if (report["server"]["last_archived_wal"] or "") >= switched and report["server"]["waiting"] == 0:
            break
        time.sleep(1)
    assert report["server"]["last_archived_wal"] >= switched >= last
    assert not report["server"]["failing_now"]
    timeline = report["server"]["timeline"]
    archived = {f.number for f in list_archive(stack) if f.kind == "segment" and f.timeline == timeline}
    assert archived and set(range(min(archived), max(archived) + 1)) == archived, "no segment missing"


def test_corrupted_segment_stops_recovery_and_leaves_the_database_alone(stack):
    base_backup(stack)
    for _ in range(2):
        stack.exec_db("INSERT INTO probe DEFAULT VALUES; SELECT pg_switch_wal();")
    assert recovery.archive_now(Catalog(stack.env))
    timeline = int(stack.exec_db("SELECT timeline_id FROM pg_control_checkpoint()", db="postgres"))
    newest = max((f for f in list_archive(stack) if f.kind == "segment" and f.timeline == timeline),
                 key=lambda f: f.number)
    # Flip bytes in the middle of the newest archived segment (its zstd checksum no longer matches).
    docker()["run", "--rm", "--network", "none", "--user", "999", "-v", f"{archive.volume(stack.env)}:/a",
             stack.env.image("backup"), "python3", "-c",
             "import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); m = len(b) // 2\n"
             "b[m:m + 16] = bytes(x ^ 0xFF for x in b[m:m + 16]); open(p, 'wb').write(b)",
             f"/a/{newest.name}"].run(timeout=60)
    before = (stack.env.postgres_volume, stack.container("db"), stack.exec_db("SELECT count(*), max(id) FROM probe"))
    with pytest.raises(DfrError, match=rf"{newest.name[:24]} in the archive is CORRUPTED"):
        restore_commands.restore(stack.env, latest=True)
    after = (stack.env.postgres_volume, stack.container("db"), stack.exec_db("SELECT count(*), max(id) FROM probe"))
    assert after == before
    project = stack.env.project_name
    assert docker()["ps", "-aq", "--filter", f"label={labels.PITR}={project}"].run()[1].strip() == ""
    kept = docker()["volume", "ls", "-q", "--filter", f"label={labels.PITR}={project}"].run()[1].split()
    assert all(v in (stack.env.postgres_volume, volumes.read(stack.env)["previous"]) for v in kept)


# ---------------------------------------------------------------- issue 11: the claims with no test yet
# After the corrupted segment above: each test below recovers from a base backup made after it.
# Order: the three kinds of successful restore, a swap that fails, then pruning (destructive).

def note(stack, *labels_):
    """One committed transaction per label, as the superuser (pitr_note is ours, not Odoo's)."""
    for label in labels_:
        stack.exec_db(f"INSERT INTO pitr_note VALUES ('{label}')")


def notes(text):
    return {x for x in (text or "").replace("\n", ",").split(",") if x}


def live_notes(stack):
    return notes(stack.exec_db("SELECT string_agg(label, ',') FROM pitr_note"))


def odoo_serves(stack, timeout=120):
    """Odoo answers /web/health (with its database) through nginx; bounded wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _, body = request(stack.ports["NGINX_HTTPS_PORT"], "/web/health?db_server_status=1")
            if status == 200 and json.loads(body).get("db_server_status") is True:
                return True
        except (OSError, ValueError):
            pass
        time.sleep(1)
    return False


def upload(stack, name, body):
    status, _, answer = request(stack.ports["NGINX_HTTPS_PORT"], f"/web/binary/upload_attachment?name={name}",
                                method="POST", body=body, headers={"Content-Type": "application/octet-stream"})
    assert status == 200, answer
    return json.loads(answer)


def content(stack, att_id):
    status, _, body = request(stack.ports["NGINX_HTTPS_PORT"], f"/web/content/{att_id}")
    return body if status == 200 else status


def restore_cli(stack, *args):
    done = invoke(stack, "restore", "--force", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_restore_to_an_lsn_keeps_what_came_before_it_only(stack):
    stack.exec_db("CREATE TABLE pitr_note (label text PRIMARY KEY)")
    base_backup(stack)
    note(stack, "lsn-A1", "lsn-A2")
    lsn = stack.exec_db("SELECT pg_current_wal_insert_lsn()")
    note(stack, "lsn-B1", "lsn-B2")
    assert recovery.archive_now(Catalog(stack.env))
    previous = stack.env.postgres_volume
    done = restore_cli(stack, f"--to-lsn={lsn}")
    assert done.returncode == 0, done.stderr
    assert f"to LSN {lsn}" in done.stderr
    assert stack.env.postgres_volume != previous
    got = live_notes(stack)
    assert {"lsn-A1", "lsn-A2"} <= got and not got & {"lsn-B1", "lsn-B2"}, got
    assert odoo_serves(stack)


def test_restore_to_a_transaction_includes_it_and_nothing_after(stack):
    note(stack, "xid-before")
    xid = stack.exec_db("BEGIN; INSERT INTO pitr_note VALUES ('xid-1'), ('xid-2'); SELECT txid_current(); COMMIT;")
    note(stack, "xid-after-1", "xid-after-2")
    assert recovery.archive_now(Catalog(stack.env))
    done = restore_cli(stack, f"--to-xid={xid}")
    assert done.returncode == 0, done.stderr
    assert f"to transaction {xid}" in done.stderr
    got = live_notes(stack)
    assert {"xid-before", "xid-1", "xid-2"} <= got and not got & {"xid-after-1", "xid-after-2"}, got
    assert odoo_serves(stack)


def test_filestore_after_a_recovery_holds_every_file_of_the_recovered_rows(stack):
    # One attachment whose file Odoo's garbage collector removes after the target (its row was
    # deleted): only the base backup's filestore archive still has it.
    collected_body = os.urandom(7000) + b"collected after the target"
    collected = upload(stack, "collected.bin", collected_body)
    base = base_backup(stack)
    kept_body = os.urandom(9000) + b"added after the base backup, before the target"
    kept = upload(stack, "kept.bin", kept_body)
    target = stack.exec_db("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')") + "+00"
    late = upload(stack, "late.bin", os.urandom(8000) + b"added after the target")
    stack.exec_db(f"DELETE FROM ir_attachment WHERE id = {int(collected['id'])}")
    stack.compose("exec", "-T", "-u", "1000", "odoo", "rm", "--",
                  f"/var/lib/odoo/filestore/dfr/{collected['store_fname']}")
    assert collected["store_fname"] not in filestore_fingerprint(stack)
    done = restore_cli(stack, f"--to-time={target}")
    assert done.returncode == 0, done.stderr
    assert f"1 attachment file(s) missing: taking them from {base.name}" in done.stderr
    assert odoo_serves(stack)
    rows = stack.exec_db("SELECT string_agg(id::text, ',') FROM ir_attachment")
    assert {str(collected["id"]), str(kept["id"])} <= notes(rows) and str(late["id"]) not in notes(rows)
    assert content(stack, kept["id"]) == kept_body
    assert content(stack, collected["id"]) == collected_body
    # The live filestore folder stays as it was (recovery.fill_filestore): the late file, no
    # longer referenced, is left to Odoo's garbage collector, never deleted by the recovery.
    files = filestore_fingerprint(stack)
    assert files[late["store_fname"]] == late["checksum"]
    assert files[kept["store_fname"]] == kept["checksum"] == hashlib.sha1(kept_body).hexdigest()


def test_failed_swap_puts_the_old_volume_back_at_once(stack):
    note(stack, "swap-1")
    lsn = stack.exec_db("SELECT pg_current_wal_insert_lsn()")
    note(stack, "swap-2")
    before, rows = volumes.read(stack.env), live_notes(stack)
    assert before["previous"], "the earlier restores left a previous volume"
    # Odoo cannot be healthy 0 s after its start on the recovered volume: a real failure
    # (an exception) after the swap, in the phase where Odoo may already have served users.
    done = restore_cli(stack, f"--to-lsn={lsn}", "--timeout=0")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [done.stderr.strip().splitlines()[-1]] and "not healthy after 0 s" in errors[0], done.stderr
    back = re.search(r"putting the previous database volume (\S+) back; keeping (\S+),", done.stderr)
    assert back and back.group(1) == before["live"], done.stderr
    assert stack.env.volumes_file.parent == stack.env.secrets_dir
    written = dotenv_values(stack.env.volumes_file)
    assert written["POSTGRES_DATA_VOLUME"] == before["live"] == stack.env.postgres_volume
    # swap.roll_back: Odoo ran on the recovered volume, so it is kept as the previous one, and
    # the volume the earlier restore replaced joins the kept list (nothing users saw is lost).
    recovered_volume = back.group(2)
    assert written["POSTGRES_DATA_PREVIOUS"] == recovered_volume and volume_exists(recovered_volume)
    assert before["previous"] in written["POSTGRES_DATA_KEPT"].split(",") and volume_exists(before["previous"])
    assert live_notes(stack) == rows and "swap-2" in rows
    assert odoo_serves(stack)
    project = stack.env.project_name
    assert docker()["ps", "-aq", "--filter", f"label={labels.PITR}={project}"].run()[1].strip() == ""
    left = set(docker()["volume", "ls", "-q", "--filter", f"label={labels.PITR}={project}"].run()[1].split())
    assert left <= {before["live"], recovered_volume, *written["POSTGRES_DATA_KEPT"].split(",")}
    assert not (settings.backup_dir(stack.env) / swap.JOURNAL).exists()


def recovered_notes(stack, target):
    """pitr_note of a throwaway recovery to `target` (nothing swapped in), along the timeline
    restore follows: the live one while the database runs, else the archive's newest that no
    roll-back abandoned."""
    runner = Runner(stack.env)
    try:
        with recovery.recovered(stack.env, runner, target) as (server, _):
            return notes(server.psql("COPY public.pitr_note (label) TO STDOUT", db="dfr")[0])
    finally:
        runner.close()


def test_latest_after_a_rolled_back_swap_follows_the_live_timeline(stack):
    # The rolled-back swap above left the recovered cluster's timeline in the archive (it ran as
    # the live one); PostgreSQL's "latest" would follow it and lose what was written since.
    note(stack, "after-rollback")
    assert recovery.archive_now(Catalog(stack.env))
    live = recovery.live_timeline(Catalog(stack.env))
    abandoned = timelines.abandoned(stack.env)
    assert abandoned and max(abandoned) > live, (abandoned, live)
    odoo.stop(stack.env)
    database.stop(stack.env)   # as after losing the database: only the archive says where to go
    try:
        got = recovered_notes(stack, parse_target(latest=True))
    finally:
        database.up(stack.env)
        odoo.start(stack.env)
    assert {"swap-1", "swap-2", "after-rollback"} <= got, sorted(got)


def wal_kept_line(text):
    found = re.search(r"WAL retention: keeping everything from ([0-9A-F]{16}) .*?; (\d+) older files", text)
    assert found, text
    return found.group(1), int(found.group(2))


KEEP_ONE = {"BACKUP_KEEP_DAILY": "1", "BACKUP_KEEP_WEEKLY": "1", "BACKUP_KEEP_MONTHLY": "1"}


def prunable(stack, newest):
    """Archive files before the start of `newest` (the one base backup retention keeps here)."""
    needed = wal_names.segment_number(wal_names.parse_lsn(newest.data["wal"]["start_lsn"]))
    return needed, {f.name for f in list_archive(stack) if f.kind in ("segment", "partial", "backup")
                    and f.number < needed}


def test_prune_dry_run_announces_the_wal_the_prune_removes(stack):
    newest = archive.base_backups(stack.env)[-1]
    needed, gone = prunable(stack, newest)
    dry = invoke(stack, "backup-prune", "--dry-run", extra_env=KEEP_ONE)
    assert dry.returncode == 0, dry.stderr
    assert wal_kept_line(dry.stderr) == (wal_names.segment_name(1, needed)[8:], len(gone)), dry.stderr


def test_backup_prune_removes_the_wal_no_kept_base_backup_needs(stack):
    newest = base_backup(stack)
    bases = archive.base_backups(stack.env)
    assert len(bases) >= 3 and bases[-1].path == newest
    sets_before, files_before = sets_of(stack), {f.name: f for f in list_archive(stack)}
    needed, gone = prunable(stack, bases[-1])
    assert gone, "older WAL to prune"
    # Every set was made today: keeping one of each day/week/month keeps the newest only.
    dry = invoke(stack, "backup-prune", "--dry-run", extra_env=KEEP_ONE)
    assert dry.returncode == 0, dry.stderr
    assert all(f"would remove {b.name}" in dry.stderr for b in bases[:-1]), dry.stderr
    assert sets_of(stack) == sets_before and set(files_before) <= {f.name for f in list_archive(stack)}
    done = invoke(stack, "backup-prune", extra_env=KEEP_ONE)
    assert done.returncode == 0, done.stderr
    assert wal_kept_line(done.stderr) == (wal_names.segment_name(1, needed)[8:], len(gone)), done.stderr
    assert sets_of(stack) == [newest]
    after = {f.name for f in list_archive(stack)}
    assert not after & gone and set(files_before) - gone <= after
    assert {n for n, f in files_before.items() if f.kind == "history"} <= after, "history files are never pruned"
    report = json.loads(invoke(stack, "wal-status", "--json").stdout)
    assert report["oldest_needed"] == json.loads((newest / "manifest.json").read_text())["wal"]["start_segment"]
    assert (report["removable"], report["missing_needed"]) == (0, [])
    # What remains still recovers to a moment after the kept base backup.
    note(stack, "prune-1")
    lsn = stack.exec_db("SELECT pg_current_wal_insert_lsn()")
    note(stack, "prune-2")
    assert recovery.archive_now(Catalog(stack.env))
    got = recovered_notes(stack, parse_target(to_lsn=lsn))
    assert "prune-1" in got and "prune-2" not in got, sorted(got)


def test_recovery_after_a_restore_to_before_the_newest_base_backup(stack):
    note(stack, "branch-1")
    lsn = stack.exec_db("SELECT pg_current_wal_insert_lsn()")
    note(stack, "branch-2")
    base_backup(stack)   # after the target: on the timeline the restore below abandons
    restore_commands.restore(stack.env, to_lsn=lsn)
    note(stack, "branch-3")
    assert recovery.archive_now(Catalog(stack.env))
    got = recovered_notes(stack, parse_target(latest=True))
    assert {"branch-1", "branch-3"} <= got and "branch-2" not in got, sorted(got)
