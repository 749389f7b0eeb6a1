"""The backup options of an environment, from config/<env>.env (or the shell)."""
import os
from pathlib import Path

from ..errors import DfrError


def backup_dir(env):
    """BACKUP_DIR, default <root>/backups/<env>; created 0700 (sets are private)."""
    value = env.get("BACKUP_DIR", "")
    path = Path(value).expanduser() if value else env.root / "backups" / env.name
    if not path.is_absolute():
        path = env.root / path
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError as error:
        raise DfrError(f"cannot create the backup folder {path} ({error.strerror}): "
                       f"set BACKUP_DIR in config/{env.name}.env to a writable folder") from None
    return path


def integer(env, key, default, minimum=0):
    raw = env.get(key, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise DfrError(f"{key}={raw!r} in config/{env.name}.env is not a whole number: fix it") from None
    if value < minimum:
        raise DfrError(f"{key}={value} in config/{env.name}.env must be at least {minimum}")
    return value


def jobs(env, override=None):
    """Parallel pg_dump/pg_restore/zstd jobs: BACKUP_JOBS, default the number of CPUs (max 8)."""
    if override:
        return max(1, int(override))
    return integer(env, "BACKUP_JOBS", min(8, os.cpu_count() or 2), minimum=1)


def keep(env):
    """(daily, weekly, monthly) sets retention keeps."""
    return (integer(env, "BACKUP_KEEP_DAILY", 7), integer(env, "BACKUP_KEEP_WEEKLY", 5),
            integer(env, "BACKUP_KEEP_MONTHLY", 12))


def zstd_level(env):
    level = integer(env, "BACKUP_ZSTD_LEVEL", 3, minimum=1)
    if level > 19:
        raise DfrError(f"BACKUP_ZSTD_LEVEL={level} must be between 1 and 19")
    return level


def db_name(env):
    return env.get("DB_NAME", "dfr")


def db_user(env):
    return env.get("DB_USER", "odoo")
