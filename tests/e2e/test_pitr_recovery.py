"""Issue 5, tests 1-4: point-in-time recovery on a real PostgreSQL stack (staging, so restored
copies are neutralized), with a 5 s archive_timeout to keep the tests short.

The tests share one stack and run in order: exactness (which also swaps a recovered volume in),
--latest after the data volume is destroyed, an archive that cannot be written for a while, and
a corrupted archived segment.
"""
import json
import random
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone

import pytest

from dfr_deploy import labels
from dfr_deploy.backup import manifest
from dfr_deploy.backup.pitr import recovery, volumes
from dfr_deploy.backup.pitr.target import parse_target
from dfr_deploy.backup.runner import Runner
from dfr_deploy.backup.wal import archive, status as wal_status
from dfr_deploy.commands import backup as backup_commands
from dfr_deploy.commands import restore as restore_commands
from dfr_deploy.docker import docker, volume_exists
from dfr_deploy.stack import database
from dfr_deploy.stack.database import Catalog
from dfr_deploy.errors import DfrError

from .backup_helpers import invoke

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
