"""Issue 13: jobs that run by themselves and drills that prove the backups restore.

One staging stack: the jobs' commands run exactly as the installed units say; a job meeting a
held lock waits, fails loudly and says so in its metric and a mail (a real SMTP server on
loopback); drills restore into throwaway stacks and leave nothing behind, even when killed; a
drill of a damaged set names what is wrong.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from dfr_deploy import labels
from dfr_deploy.backup import lock, manifest, settings
from dfr_deploy.docker import docker
from dfr_deploy.schedule import install

from .backup_helpers import db_fingerprint, filestore_fingerprint, invoke, seed, sets_of
from .conftest import free_port


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages, self.lock = [], threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture(scope="module")
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory, inbox):
    _, port = inbox
    s = make_stack("staging", IMAGE_TAG="prod", POSTGRES_ARCHIVE_TIMEOUT="5", BACKUP_JOBS="2",
                   BACKUP_RCLONE_REMOTE=str(tmp_path_factory.mktemp("offsite")),
                   SMTP_SERVER="127.0.0.1", SMTP_PORT=str(port), ALERT_EMAIL_TO="team@example.org",
                   EMAIL_FROM="dfr@example.org", JOB_LOCK_WAIT="3")
    s.deploy()
    seed(s, rows=1500, files=5, marker="live")
    return s


def prom(stack, name):
    """{series: value} of one metrics file of the stack."""
    path = Path(stack.env.overrides["METRICS_DIR"]) / name
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def metric(values, name, **labels_):
    for series, value in values.items():
        if series.startswith(name + "{") and all(f'{k}="{v}"' in series for k, v in labels_.items()):
            return value
    return None


def run_as_written(stack, command, timeout=900):
    """A unit's ExecStart run as systemd would (its words, no shell), with the stack's settings."""
    env = dict(os.environ, **{k: str(v) for k, v in stack.env.overrides.items()})
    return subprocess.run(shlex.split(command), env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def units(stack, tmp_path_factory):
    root = tmp_path_factory.mktemp("host-root")
    install.install(stack.env, root, mode="systemd")
    yield root / install.SYSTEMD_DIR
    install.remove(stack.env, root)


def exec_start(units, stack, job):
    text = (units / f"{stack.env.project_name}-{job}.service").read_text()
    return re.search(r"^ExecStart=(.*)$", text, re.M).group(1)


@pytest.mark.parametrize("job", ["backup", "basebackup", "wal-check"])
def test_each_job_runs_as_its_unit_says_and_leaves_metrics(stack, units, job):
    before = len(sets_of(stack))
    result = run_as_written(stack, exec_start(units, stack, job))
    assert result.returncode == 0, result.stderr
    values = prom(stack, f"dfr_job_{job.replace('-', '_')}.prom")
    assert metric(values, "dfr_job_last_result", job=job, environment="staging") == 1
    assert time.time() - metric(values, "dfr_job_last_success_timestamp_seconds", job=job) < 600
    assert metric(values, "dfr_job_lock_timeout", job=job) == 0
    if job == "wal-check":
        wal = prom(stack, "dfr_wal.prom")
        assert metric(wal, "dfr_wal_failed_count") == 0 and metric(wal, "dfr_wal_archive_timeout_seconds") == 5
        return
    assert len(sets_of(stack)) == before + 1, "a set was published"
    newest = manifest.verify(sets_of(stack)[-1])
    kind = "logical" if job == "backup" else "basebackup"
    assert newest["method"] == kind
    backups = prom(stack, "dfr_backups.prom")
    assert metric(backups, "dfr_backup_sets", kind=kind) >= 1
    assert metric(backups, "dfr_backup_last_size_bytes", kind=kind) > 0
    assert abs(metric(backups, "dfr_backup_last_good_timestamp_seconds", kind=kind)
               - manifest.parse_time(newest["started_at"]).timestamp()) < 1


def test_a_job_meeting_a_held_lock_waits_then_fails_loudly_with_a_metric_and_a_mail(stack, units, inbox):
    messages, _ = inbox
    command = exec_start(units, stack, "backup") + " --notify"   # as the cron line runs it
    before = len(messages.messages)
    with lock.held(settings.backup_dir(stack.env), "restore (a long one)", "staging"):
        started = time.monotonic()
        result = run_as_written(stack, command)
        waited = time.monotonic() - started
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the backup job failed: another backup operation of staging is running: "
                           "restore (a long one)") and "waited 3 s" in last, last
    assert waited >= 3
    values = prom(stack, "dfr_job_backup.prom")
    assert metric(values, "dfr_job_last_result", job="backup") == 0
    assert metric(values, "dfr_job_lock_timeout", job="backup") == 1
    deadline = time.monotonic() + 30
    while len(messages.messages) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    mail = messages.messages[-1]
    assert "Subject: [DFR" in mail and "backup FAILED" in mail and "restore (a long one)" in mail
    assert "To: team@example.org" in mail


def test_the_notification_unit_mails_the_failed_jobs_last_words(stack, inbox):
    messages, _ = inbox
    before = len(messages.messages)
    result = invoke(stack, "notify", f"--failed-unit={stack.env.project_name}-backup.service")
    assert result.returncode == 0, result.stderr
    assert len(messages.messages) == before + 1
    assert "restore (a long one)" in messages.messages[-1]      # what the backup job recorded


def live_state(stack):
    """What a drill must never change: the live containers, volumes, data and files."""
    project = stack.env.project_name
    containers = sorted(docker()["ps", "-q", "--filter", f"label=com.docker.compose.project={project}"].run()[1].split())
    volumes = sorted(docker()["volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"].run()[1]
                     .split())
    return containers, volumes, db_fingerprint(stack), filestore_fingerprint(stack)


def no_drill_left(stack):
    project = stack.env.project_name
    for kind in ("ps -aq", "volume ls -q", "network ls -q"):
        found = docker()[kind.split() + ["--filter", f"label={labels.DRILL}={project}"]].run()[1].strip()
        assert found == "", f"a drill's {kind.split()[0]} is left"
    # by name too: a volume a helper container made before compose did carries no label
    named = [v for v in docker()["volume", "ls", "-q"].run()[1].split() if v.startswith(f"{project}-drill-")]
    assert named == [], f"a drill's volumes are left: {named}"
    assert not list(settings.backup_dir(stack.env).glob(".tmp-*"))


@pytest.fixture(scope="module")
def good_set(stack):
    result = invoke(stack, "backup")
    assert result.returncode == 0, result.stderr
    return sets_of(stack)[-1]


def test_a_drill_of_a_good_set_passes_records_its_rto_and_leaves_nothing(stack, good_set):
    before = live_state(stack)
    result = invoke(stack, "backup-drill", f"--set={good_set.name}")
    assert result.returncode == 0, result.stderr
    assert live_state(stack) == before, "the live stack is untouched"
    no_drill_left(stack)
    record = json.loads((good_set / "drill.json").read_text())[-1]
    assert record["ok"] and record["kind"] == "logical" and record["rto_seconds"] > 0
    assert record["tables"] >= 4 and record["attachments"] == 5
    manifest.verify(good_set)     # the record is beside the set's content, not in it
    listed = invoke(stack, "backups").stdout
    assert re.search(rf"{good_set.name}.*drilled .* ok, RTO \d+(\.\d+)? s", listed), listed
    drills = prom(stack, "dfr_drills.prom")
    assert metric(drills, "dfr_drill_last_result", kind="logical") == 1
    assert metric(drills, "dfr_drill_last_rto_seconds", kind="logical") == record["rto_seconds"]


def damaged_copy(stack, good_set, tmp_path, script):
    """A copy of the set changed in the tools image by `script` (sh), checksums made to match."""
    copy = tmp_path / good_set.name
    subprocess.run(["cp", "-a", str(good_set), str(copy)], check=True)
    docker()["run", "--rm", "--network", "none", "--user", "0", "-v", f"{copy}:/set", stack.env.image("backup"),
             "sh", "-c", script].run(timeout=120)
    data = manifest.load(copy)
    data["files"] = manifest.hash_files(copy)
    manifest.write(copy, data)
    return copy


def test_a_drill_of_a_set_missing_rows_names_the_table(stack, good_set, tmp_path):
    # the plots' data file (no other table refers to them) replaced by a shorter, valid one:
    # the checksums cannot see it
    copy = damaged_copy(stack, good_set, tmp_path,
                        'for f in /set/db/*.dat.zst; do if zstd -dcq "$f" | grep -q "POINT("; then '
                        'zstd -dcq "$f" | head -n 1000 > /tmp/t && zstd -qf /tmp/t -o "$f"; fi; done')
    before = live_state(stack)
    result = invoke(stack, "backup-drill", f"--set={copy}")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "table public.dfr_plot has 1000 rows after the restore, 1500 at backup time" in last, last
    assert live_state(stack) == before
    no_drill_left(stack)
    assert metric(prom(stack, "dfr_drills.prom"), "dfr_drill_last_result", kind="logical") == 0


def test_a_drill_of_a_set_missing_an_attachment_names_the_file(stack, good_set, tmp_path):
    name = stack.exec_db("SELECT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL ORDER BY id LIMIT 1")
    copy = damaged_copy(stack, good_set, tmp_path,
                        f'mkdir /tmp/f && cd /tmp/f && zstd -dcq /set/filestore.tar.zst | tar -x && rm ./{name} && '
                        'tar -cf - . | zstd -q -o /set/filestore.tar.zst -f')
    result = invoke(stack, "backup-drill", f"--set={copy}")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "attachment file(s) of the backup are missing" in last and name in last, last
    no_drill_left(stack)


@pytest.mark.parametrize("point", ["drill-stack-up", "after-rename", "drill-odoo-healthy"])
def test_a_drill_killed_in_any_phase_leaves_nothing_after_the_next_operation(stack, good_set, point):
    before = live_state(stack)
    killed = invoke(stack, "backup-drill", f"--set={good_set.name}", extra_env={"DFR_TEST_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert docker()["ps", "-aq", "--filter", f"label={labels.DRILL}={stack.env.project_name}"].run()[1].strip(), \
        "the killed drill left its stack"
    result = invoke(stack, "backup-prune", "--dry-run")
    assert result.returncode == 0, result.stderr
    no_drill_left(stack)
    assert live_state(stack) == before


def test_a_point_in_time_drill_at_a_random_moment_passes(stack):
    if not [p for p in sets_of(stack) if manifest.load(p).get("method") == "basebackup"]:
        made = invoke(stack, "backup", "--method=basebackup")     # when this test runs alone
        assert made.returncode == 0, made.stderr
    result = invoke(stack, "backup-drill", "--random-time")
    assert result.returncode == 0, result.stderr
    base = [p for p in sets_of(stack) if (manifest.load(p) or {}).get("method") == "basebackup"][-1]
    record = json.loads((base / "drill.json").read_text())[-1]
    assert record["ok"] and record["kind"] == "pitr" and record["rto_seconds"] > 0 and record["target"]
    assert isinstance(record["marks_checked"], int)
    no_drill_left(stack)
    assert metric(prom(stack, "dfr_drills.prom"), "dfr_drill_last_result", kind="pitr") == 1


def test_a_point_in_time_drill_finds_the_rows_committed_before_its_moment(stack):
    """The WAL check commits a recovery mark; a drill to a moment after it must find it."""
    if not [p for p in sets_of(stack) if manifest.load(p).get("method") == "basebackup"]:
        assert invoke(stack, "backup", "--method=basebackup").returncode == 0
    checked = invoke(stack, "job", "--name=wal-check")
    assert checked.returncode == 0, checked.stderr
    time.sleep(1.5)   # a mark counts once committed a second before the moment
    moment = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    time.sleep(0.5)
    result = invoke(stack, "backup-drill", f"--to-time={moment}")
    assert result.returncode == 0, result.stderr
    base = [p for p in sets_of(stack) if (manifest.load(p) or {}).get("method") == "basebackup"][-1]
    record = json.loads((base / "drill.json").read_text())[-1]
    assert record["ok"] and record["target"] == moment and record["marks_checked"] >= 1, record
    assert "recovery marks of before the moment found" in result.stdout + result.stderr
    no_drill_left(stack)


def test_a_drill_from_the_offsite_copy_proves_the_copy(stack, good_set):
    copied = invoke(stack, "backup")   # with BACKUP_RCLONE_REMOTE: copied offsite and checked
    assert copied.returncode == 0, copied.stderr
    newest = sets_of(stack)[-1]
    remote = Path(stack.env.overrides["BACKUP_RCLONE_REMOTE"]) / newest.name
    assert (remote / "manifest.json").exists()
    result = invoke(stack, "backup-drill", f"--set={newest.name}", "--from-offsite")
    assert result.returncode == 0, result.stderr
    assert f"fetched {newest.name} from" in result.stderr
    record = json.loads((newest / "drill.json").read_text())[-1]
    assert record["ok"] and record["from_offsite"] == str(remote.parent)
    no_drill_left(stack)
