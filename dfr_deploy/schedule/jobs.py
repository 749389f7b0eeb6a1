"""The jobs an environment runs by itself, their schedule settings and defaults.

A schedule is a cron expression in config/<env>.env (`off` turns the job off). The backup job
applies the retention after each good backup; the WAL check runs every few minutes so that a
stopped archive is noticed within minutes, not at the next restore.
"""
from dataclasses import dataclass

from ..errors import DfrError
from . import calendar


@dataclass(frozen=True)
class Job:
    name: str
    setting: str
    default: str
    what: str


JOBS = (
    Job("backup", "BACKUP_SCHEDULE", "30 1 * * *", "logical backup set, then retention"),
    Job("basebackup", "BASEBACKUP_SCHEDULE", "0 2 * * 0", "base backup for point-in-time recovery, then retention"),
    Job("drill", "DRILL_SCHEDULE", "0 4 * * 6", "restore drill of the newest set in a throwaway stack"),
    Job("wal-check", "WAL_CHECK_SCHEDULE", "*/5 * * * *", "WAL archive check (last archived segment, failures)"),
)
BY_NAME = {job.name: job for job in JOBS}


def named(name):
    if name not in BY_NAME:
        raise DfrError(f"unknown job {name!r}: use one of {', '.join(BY_NAME)}")
    return BY_NAME[name]


def schedules(env):
    """[(Job, cron expression)] of the jobs this environment runs (checked: a bad expression
    stops `invoke schedule` with the setting named)."""
    chosen = []
    for job in JOBS:
        expression = env.get(job.setting, job.default).strip()
        if expression.lower() == "off":
            continue
        try:
            calendar.parse(expression)
        except DfrError as error:
            raise DfrError(f"{job.setting} in config/{env.name}.env: {error}") from None
        chosen.append((job, expression))
    return chosen
