"""Writing an environment's job files (only what changed: installing twice changes nothing),
enabling the timers, removing everything again, and what `invoke status` shows of the jobs.

`root` is the file system root the files go under (`/` on a host; a folder in tests, where
`systemctl --root` enables the timers offline and no running systemd is asked anything).
"""
import os
import shutil
from datetime import datetime
from pathlib import Path

from plumbum import local
from plumbum.commands.processes import ProcessExecutionError

from ..errors import DfrError
from . import jobs, units

SYSTEMD_DIR = "etc/systemd/system"
CRON_DIR = "etc/cron.d"
LOGROTATE_DIR = "etc/logrotate.d"


def has_systemd(root):
    return Path(root) == Path("/") and Path("/run/systemd/system").is_dir()


def choose_mode(root, mode):
    """systemd where the host runs it, cron otherwise (or what --systemd / --cron says)."""
    if mode in ("systemd", "cron"):
        return mode
    return "systemd" if has_systemd(root) else "cron"


def _systemctl(root, *args):
    systemctl = shutil.which("systemctl")
    if not systemctl:
        raise DfrError("systemctl is missing: install systemd, or schedule with cron (`invoke schedule --cron`)")
    command = local[systemctl]
    if Path(root) != Path("/"):
        command = command[f"--root={root}"]
    try:
        command[list(args)].run(timeout=120)
    except ProcessExecutionError as error:
        lines = (error.stderr or "").strip().splitlines()
        raise DfrError(f"systemctl {' '.join(args)} failed: {lines[-1] if lines else error.retcode}") from None


def _write(path, content, mode=0o644):
    """Write only when the content differs; returns True when it changed something."""
    if path.exists() and path.read_text() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def _ours(env, folder):
    """Files of this environment's jobs already in a folder."""
    prefix = f"{env.project_name}-"
    return sorted(p for p in Path(folder).glob(f"{prefix}*") if p.is_file() or p.is_symlink())


def install(env, root="/", mode="auto"):
    """Install the job files; returns the paths written (empty when nothing changed)."""
    root = Path(root)
    mode = choose_mode(root, mode)
    changed = []
    if mode == "systemd":
        folder = root / SYSTEMD_DIR
        files = units.systemd_units(env)
        for stale in _ours(env, folder):
            if stale.name not in files:
                if stale.name.endswith(".timer"):
                    _systemctl(root, "disable", *(["--now"] if root == Path("/") else []), stale.name)
                stale.unlink()
                changed.append(stale)
        changed += [folder / name for name, text in files.items() if _write(folder / name, text)]
        timers = sorted(name for name in files if name.endswith(".timer"))
        if root == Path("/"):
            _systemctl(root, "daemon-reload")
            _systemctl(root, "enable", "--now", *timers)
        else:
            wants = root / SYSTEMD_DIR / "timers.target.wants"
            # the links point at /etc/systemd/system/...: dangling outside the real root
            missing = [t for t in timers if not os.path.lexists(wants / t)]
            if missing:
                _systemctl(root, "enable", *missing)
                changed += [wants / t for t in missing]
    else:
        cron, rotate = units.cron_files(env)
        (root / units.LOG_DIR.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for path, text in ((root / CRON_DIR / env.project_name, cron), (root / LOGROTATE_DIR / env.project_name, rotate)):
            if _write(path, text):
                changed.append(path)
    return changed


def remove(env, root="/"):
    """Remove every file of this environment's jobs (timers stopped first); returns them."""
    root = Path(root)
    removed = []
    folder = root / SYSTEMD_DIR
    timers = [p.name for p in _ours(env, folder) if p.name.endswith(".timer")]
    if timers:
        _systemctl(root, "disable", *(["--now"] if root == Path("/") else []), *timers)
    for path in _ours(env, folder) + _ours(env, folder / "timers.target.wants"):
        path.unlink()
        removed.append(path)
    for path in (root / CRON_DIR / env.project_name, root / LOGROTATE_DIR / env.project_name):
        if path.exists():
            path.unlink()
            removed.append(path)
    if timers and root == Path("/"):
        _systemctl(root, "daemon-reload")
    return removed


def next_runs(env, now=None):
    """[(Job, expression, next run)] from the cron expressions (the timers add up to
    JOB_RANDOM_DELAY to each)."""
    from croniter import croniter

    now = now or datetime.now().astimezone()
    return [(job, expression, croniter(expression, now).get_next(datetime)) for job, expression in jobs.schedules(env)]


def installed(env, root="/"):
    """'systemd', 'cron', or None: how this environment's jobs are installed on the host."""
    root = Path(root)
    if _ours(env, root / SYSTEMD_DIR):
        return "systemd"
    if (root / CRON_DIR / env.project_name).exists():
        return "cron"
    return None
