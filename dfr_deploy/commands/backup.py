"""backup, backups, backup-prune, backup-export and wal-status: the backup tasks."""
from ..backup import export as exporting
from ..backup import listing, metrics, prune as pruning
from ..backup.runner import Runner
from ..backup.sets import basebackup, logical
from ..backup.wal import status as wal_status
from ..errors import DfrError
from . import door

METHODS = ("logical", "basebackup")


def backup(env, method="logical", jobs=None, encrypt=True, copy_offsite=True, prune=False, allow_missing=False,
           wait=0.0):
    """A set (its metrics written, good or bad: by hand or by the scheduled job alike)."""
    if method not in METHODS:
        raise DfrError(f"unknown --method={method!r}: use logical (pg_dump) or basebackup (for point-in-time recovery)")
    job = "backup" if method == "logical" else "basebackup"
    with metrics.recording(env, job), door.enter(env, "backup" if method == "logical" else "backup (basebackup)",
                                                  wait=wait):
        if method == "basebackup":
            return basebackup.run(env, jobs=jobs, encrypt=encrypt, copy_offsite=copy_offsite, prune=prune)
        return logical.backup(env, jobs=jobs, encrypt=encrypt, copy_offsite=copy_offsite, prune=prune,
                              allow_missing=allow_missing)


def prune(env, dry_run=False, daily=None, weekly=None, monthly=None, wait=0.0):
    if dry_run:
        return _prune(env, dry_run, daily, weekly, monthly, wait)
    with metrics.recording(env, "prune"):
        return _prune(env, dry_run, daily, weekly, monthly, wait)


def _prune(env, dry_run, daily, weekly, monthly, wait):
    with door.enter(env, "backup-prune", wait=wait):
        runner = Runner(env)
        try:
            runner.check_image()
            return pruning.apply(env, runner, dry_run=dry_run, daily=daily, weekly=weekly, monthly=monthly)
        finally:
            runner.close()


def export(env, set_name, fmt="odoo-zip", output=None, identity=None):
    with door.enter(env, "backup-export"):
        return exporting.export(env, set_name, fmt=fmt, output=output, identity=identity)


def backups(env, verify=False, json_=False):
    report = listing.report(env, full=verify)
    return listing.as_json(report) if json_ else listing.format_report(report)


def wal(env, json_=False):
    return wal_status.run(env, json_=json_)
