"""Metrics of the scheduled jobs, for Prometheus: every name is said here, once.

Written atomically (durable.write_atomic) in the text format node_exporter's textfile collector
reads, one file per job in METRICS_DIR (default <project>/metrics/<env>), every series labelled
with the environment and the compose project. A job's last success survives the files being
rewritten: it is kept in a small JSON state beside them (the collector reads *.prom only).
Documented in backup/README.md ("Metrics").
"""
import json
import os
import time
from contextlib import contextmanager

from .. import durable
from ..errors import Busy
from . import listing, settings

# name -> (type, help)
JOB = {
    "dfr_job_last_run_timestamp_seconds": ("gauge", "When the job last ended (unix time)."),
    "dfr_job_last_success_timestamp_seconds": ("gauge", "When the job last succeeded (unix time)."),
    "dfr_job_last_result": ("gauge", "1 if the job's last run succeeded, 0 if it failed."),
    "dfr_job_last_duration_seconds": ("gauge", "How long the job's last run took."),
    "dfr_job_lock_timeout": ("gauge", "1 if the last run failed because another operation held the lock too long."),
}
BACKUPS = {
    "dfr_backup_last_good_timestamp_seconds": ("gauge", "Start time of the newest verified set (unix time)."),
    "dfr_backup_last_size_bytes": ("gauge", "Size of the newest set."),
    "dfr_backup_sets": ("gauge", "Number of sets kept."),
}
DRILL = {
    "dfr_drill_last_timestamp_seconds": ("gauge", "When the last restore drill ended (unix time)."),
    "dfr_drill_last_result": ("gauge", "1 if the last restore drill passed, 0 if it failed."),
    "dfr_drill_last_rto_seconds": ("gauge", "Seconds from the drill's start to Odoo healthy on the restored data."),
}
WAL = {
    "dfr_wal_last_archived_timestamp_seconds": ("gauge", "When PostgreSQL last archived a WAL segment (unix time)."),
    "dfr_wal_failed_count": ("gauge", "Failed archive attempts since the server's statistics were reset."),
    "dfr_wal_waiting_segments": ("gauge", "WAL segments waiting in pg_wal to be archived."),
    "dfr_wal_archive_timeout_seconds": ("gauge", "archive_timeout of the server."),
}


def folder(env, create=True):
    path = env.metrics_folder
    if create:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o755)   # node_exporter (nobody) reads it; nothing secret in it
    return path


def _labels(env, extra=None):
    labels = {"environment": env.name, "project": env.project_name, **(extra or {})}
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def render(env, families, samples):
    """Text format: HELP and TYPE once per name, then its samples [(name, extra labels, value)]."""
    lines = []
    for name, (kind, text) in families.items():
        mine = [(extra, value) for n, extra, value in samples if n == name]
        if not mine:
            continue
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{_labels(env, extra)} {float(value):.17g}" for extra, value in mine]
    return "\n".join(lines) + "\n"


def write(env, filename, families, samples):
    target = folder(env) / filename
    durable.write_atomic(target, render(env, families, samples), mode=0o644)
    return target


def _state(env, job):
    path = folder(env) / f".state-{job}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def job_finished(env, job, ok, duration, lock_timeout=False, message=""):
    """The job's metrics, and its state (last success kept across runs)."""
    now = time.time()
    state = _state(env, job)
    state.update(last_run=now, last_result=1 if ok else 0, last_duration=round(duration, 1),
                 lock_timeout=1 if lock_timeout else 0, message=message)
    if ok:
        state["last_success"] = now
    durable.write_atomic(folder(env) / f".state-{job}.json", json.dumps(state), mode=0o644)
    extra = {"job": job}
    samples = [("dfr_job_last_run_timestamp_seconds", extra, now),
               ("dfr_job_last_result", extra, state["last_result"]),
               ("dfr_job_last_duration_seconds", extra, state["last_duration"]),
               ("dfr_job_lock_timeout", extra, state["lock_timeout"])]
    if "last_success" in state:
        samples.append(("dfr_job_last_success_timestamp_seconds", extra, state["last_success"]))
    return write(env, f"dfr_job_{job.replace('-', '_')}.prom", JOB, samples)


@contextmanager
def recording(env, job):
    """Time the body and record its outcome as job `job` (a failure is let through); backups
    also refresh the sets' metrics."""
    started = time.monotonic()
    try:
        yield
    except Exception as error:
        job_finished(env, job, ok=False, duration=time.monotonic() - started,
                     lock_timeout=isinstance(error, Busy), message=str(error))
        if job in ("backup", "basebackup", "prune"):
            backups(env)
        raise
    job_finished(env, job, ok=True, duration=time.monotonic() - started)
    if job in ("backup", "basebackup", "prune"):
        backups(env)


def job_state(env, job):
    """What the last run of a job left: {last_run, last_result, last_success, message, ...}."""
    return _state(env, job)


def backups(env):
    """Sets of each kind: the newest verified one's time, the newest's size, how many."""
    entries = [e for e in listing.sets(settings.backup_dir(env)) if e.data]
    samples = []
    for kind in ("logical", "basebackup"):
        mine = [e for e in entries if e.data.get("method") == kind]
        extra = {"kind": kind}
        samples.append(("dfr_backup_sets", extra, len(mine)))
        good = [e for e in mine if e.verified]
        if good:
            samples.append(("dfr_backup_last_good_timestamp_seconds", extra, good[-1].when.timestamp()))
        if mine:
            samples.append(("dfr_backup_last_size_bytes", extra, mine[-1].data.get("size_bytes", 0)))
    return write(env, "dfr_backups.prom", BACKUPS, samples)


def drill(env, kind, ok, rto):
    state = _state(env, f"drill-{kind}")
    state.update(when=time.time(), ok=1 if ok else 0, rto=rto)
    durable.write_atomic(folder(env) / f".state-drill-{kind}.json", json.dumps(state), mode=0o644)
    samples = []
    for other in ("logical", "pitr"):
        last = state if other == kind else _state(env, f"drill-{other}")
        if last.get("when"):
            extra = {"kind": other}
            samples += [("dfr_drill_last_timestamp_seconds", extra, last["when"]),
                        ("dfr_drill_last_result", extra, last["ok"])]
            if last.get("rto") is not None:
                samples.append(("dfr_drill_last_rto_seconds", extra, last["rto"]))
    return write(env, "dfr_drills.prom", DRILL, samples)


def wal(env, server):
    """pg_stat_archiver as wal-status reads it (server: its dict, None when the database is down)."""
    samples = []
    if server:
        if server.get("last_archived_epoch"):
            samples.append(("dfr_wal_last_archived_timestamp_seconds", {}, server["last_archived_epoch"]))
        samples += [("dfr_wal_failed_count", {}, server["failed_count"]),
                    ("dfr_wal_waiting_segments", {}, server["waiting"]),
                    ("dfr_wal_archive_timeout_seconds", {}, server["archive_timeout_seconds"])]
    return write(env, "dfr_wal.prom", WAL, samples)
