"""The files that make an environment's jobs run: systemd units (a service and a timer per job,
and one notification service every job's OnFailure= points at), or cron lines with a logrotate
file. Rendered from the environment alone, so installing twice writes the same bytes."""
import shlex
import sys
from pathlib import Path

from . import calendar, jobs

LOG_DIR = "/var/log/dfr"


def invoke_command(env, *args):
    """The command line of a task of this project, as the host runs it (no shell involved)."""
    invoke = Path(sys.executable).parent / "invoke"
    return [str(invoke), "--search-root", str(env.root), *args, f"--env={env.name}"]


def unit_name(env, job):
    return f"{env.project_name}-{job}"


def notify_unit(env):
    return f"{env.project_name}-notify@.service"


def systemd_units(env):
    """{file name: content} of every unit of the environment's jobs."""
    files = {}
    for job, expression in jobs.schedules(env):
        name = unit_name(env, job.name)
        command = " ".join(shlex.quote(a) for a in invoke_command(env, "job", f"--name={job.name}"))
        files[f"{name}.service"] = (
            f"[Unit]\nDescription=DFR {env.project_name}: {job.what}\n"
            f"Documentation=file://{env.root}/backup/README.md\n"
            "After=docker.service network-online.target\nWants=network-online.target\n"
            f"OnFailure={env.project_name}-notify@%n.service\n\n"
            "[Service]\nType=oneshot\n"
            f"ExecStart={command}\n"
            f"WorkingDirectory={env.root}\n"
            "StandardOutput=journal\nStandardError=journal\n"
            # a stuck job is stopped eventually (and its failure notified): longer than any backup
            f"TimeoutStartSec={env.get('JOB_TIMEOUT', '12h')}\n")
        when = "".join(f"OnCalendar={line}\n" for line in calendar.to_oncalendar(expression))
        files[f"{name}.timer"] = (
            f"[Unit]\nDescription=DFR {env.project_name}: {job.what} ({expression})\n\n"
            f"[Timer]\n{when}"
            # a run missed while the host was down happens at the next boot; jobs of several
            # environments on one host do not all start in the same second
            f"Persistent=true\nRandomizedDelaySec={env.get('JOB_RANDOM_DELAY', '5min')}\n"
            f"Unit={name}.service\n\n"
            "[Install]\nWantedBy=timers.target\n")
    notify = " ".join(shlex.quote(a) for a in invoke_command(env, "notify")) + " --failed-unit=%i"
    files[notify_unit(env)] = (
        f"[Unit]\nDescription=DFR {env.project_name}: tell the team that %i failed\n\n"
        f"[Service]\nType=oneshot\nExecStart={notify}\nWorkingDirectory={env.root}\n")
    return files


def cron_files(env):
    """(cron.d file content, logrotate file content) for hosts without systemd. Each job
    notifies its own failure (cron has no OnFailure=) and appends to its own log file."""
    lines = [f"# DFR {env.project_name}: jobs written by `invoke schedule --env={env.name}` (do not edit;",
             "# change the *_SCHEDULE settings and run it again)", "SHELL=/bin/sh",
             "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    for job, expression in jobs.schedules(env):
        command = " ".join(shlex.quote(a) for a in invoke_command(env, "job", f"--name={job.name}", "--notify"))
        log = f"{LOG_DIR}/{unit_name(env, job.name)}.log"
        lines.append(f"{expression} root {command} >> {log} 2>&1")
    rotate = (f"{LOG_DIR}/{env.project_name}-*.log {{\n    weekly\n    rotate 8\n    compress\n"
              "    missingok\n    notifempty\n    copytruncate\n}\n")
    return "\n".join(lines) + "\n", rotate
