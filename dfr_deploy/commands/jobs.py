"""The scheduled jobs: `invoke job --name=...` (what a timer or cron line runs), `invoke
schedule` (installing them) and `invoke notify` (a systemd OnFailure= unit).

A job enters the one door like every operation, but waits (JOB_LOCK_WAIT seconds, default one
hour) for an operation already running; past that it fails loudly, with its metric saying why.
Every backup, prune, drill and WAL check, good or bad, scheduled or by hand, leaves its metrics
(backup.metrics) for the monitoring to read. The WAL check takes no lock, so a long backup never
silences it: it reads, and commits one recovery mark (stack.database) in the `postgres` database.
"""
import time

from ..backup import metrics
from ..backup.wal import status as wal_status
from ..errors import DfrError
from ..progress import say
from ..schedule import install, jobs, notify
from ..stack.database import Catalog
from . import backup, drill


def _wal_check(env):
    """The archive must be working: no failure since the last success, and a segment archived
    within twice archive_timeout (plus a minute: compressing and publishing one takes time)."""
    catalog = Catalog(env)
    server = wal_status.server_status(catalog)
    metrics.wal(env, server)
    if server is None:
        raise DfrError(f"the database of {env.name} is not running: the WAL archive cannot be checked")
    catalog.mark()   # one row through the WAL: the moments a point-in-time drill can look for
    if server["failing_now"]:
        raise DfrError(f"archiving WAL is failing ({server['failed_count']} failures, last {server['last_failed_wal']}): "
                       f"see `invoke wal-status --env={env.name}` and the db logs")
    limit = 2 * int(server["archive_timeout_seconds"]) + 60
    last = server.get("last_archived_epoch")
    if last and time.time() - float(last) > limit and server["waiting"]:
        raise DfrError(f"the last WAL segment was archived {time.time() - float(last):.0f} s ago (more than {limit} s) "
                       f"and {server['waiting']} wait in pg_wal: see `invoke wal-status --env={env.name}`")
    return f"WAL archive ok: {server['archived_count']} archived, {server['waiting']} waiting"


def run(env, name, notify_failure=False):
    """Run one job; its metrics are written by the operation itself, good or bad (a job that
    waited too long for the lock says so there); a notification on failure when asked (cron)."""
    jobs.named(name)
    wait = float(env.get("JOB_LOCK_WAIT", "3600"))
    try:
        if name == "backup":
            result = backup.backup(env, prune=True, wait=wait)
        elif name == "basebackup":
            result = backup.backup(env, method="basebackup", prune=True, wait=wait)
        elif name == "drill":
            result = drill.scheduled_job(env, wait)
        else:
            with metrics.recording(env, "wal-check"):   # reads only: no lock, never blocked by a backup
                result = _wal_check(env)
    except DfrError as error:
        if notify_failure:
            notify.failure(env, name, str(error))
        raise DfrError(f"the {name} job failed: {error}") from None
    say(f"the {name} job of {env.name} succeeded")
    return result


def failed_unit(env, unit):
    """`invoke notify --failed-unit=UNIT` (systemd's OnFailure=): the job's last words, mailed."""
    prefix = f"{env.project_name}-"
    job = unit.removesuffix(".service").removeprefix(prefix)
    state = metrics.job_state(env, job)
    message = state.get("message") if state.get("last_result") == 0 else None
    message = message or (f"{unit} failed without recording why (killed, out of memory, or a crash): "
                          f"see `journalctl -u {unit}`")
    return notify.failure(env, job, message)


def schedule(env, root="/", mode="auto", remove=False):
    if remove:
        return install.remove(env, root)
    return install.install(env, root, mode)


def show(env):
    """Each job: its schedule, next run, last run and result (`invoke schedule --show`, status)."""
    rows = []
    how = install.installed(env)
    for job, expression, upcoming in install.next_runs(env):
        state = metrics.job_state(env, job.name)
        rows.append({"job": job.name, "schedule": expression, "installed": how,
                     "next": upcoming.isoformat(timespec="minutes") if how else None,
                     "last_run": state.get("last_run"), "last_result": state.get("last_result"),
                     "message": state.get("message", "")})
    return rows
