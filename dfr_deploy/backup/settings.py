"""The backup options of an environment, from config/<env>.env (or the shell)."""
import os

from ..errors import DfrError


def backup_dir(env, create=True):
    """BACKUP_DIR, default <root>/backups/<env>; created 0700 (sets are private)."""
    path = env.backup_folder
    if not create:
        return path
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


def zstd_level(env, default=3):
    """BACKUP_ZSTD_LEVEL, else the method's default: 1 for logical sets (measured on the
    benchmark's dump: -1 compressed 1.7x faster than -3 AND smaller, 114 vs 118 MB; the
    filestore, mostly photos and PDFs, is the same size at any level), 3 for base backups."""
    level = integer(env, "BACKUP_ZSTD_LEVEL", default, minimum=1)
    if level > 19:
        raise DfrError(f"BACKUP_ZSTD_LEVEL={level} must be between 1 and 19")
    return level


MEBI = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def memory_mb(raw):
    """Megabytes of a docker memory value (`4915m`, `3g`, `1GB`), or None if unreadable."""
    text = str(raw).strip().lower().removesuffix("b")
    if text.isdigit():
        return int(text) // (1024 * 1024)
    if text[:-1].isdigit() and text[-1:] in MEBI:
        return int(int(text[:-1]) * MEBI[text[-1]])
    return None


def restore_memory_mb(env, jobs):
    """maintenance_work_mem (MB) of each restore session: index builds dominate a restore and
    sort in memory when they fit. BACKUP_RESTORE_MAINTENANCE_WORK_MEM if set; otherwise half
    the database container's memory (DB_MEMORY) shared by the parallel jobs, 64 MB to 1 GB
    (measured: 256 MB -> 1 GB made a 1.25 GB restore on 2 jobs ~4 s faster)."""
    explicit = env.get("BACKUP_RESTORE_MAINTENANCE_WORK_MEM", "")
    if explicit:
        value = memory_mb(explicit.replace("MB", "m").replace("GB", "g").replace("kB", "k"))
        if not value:
            raise DfrError(f"BACKUP_RESTORE_MAINTENANCE_WORK_MEM={explicit!r} in config/{env.name}.env is not a "
                           "size: write it like 512MB or 1GB")
        return value
    limit = memory_mb(env.get("DB_MEMORY", "")) if env.get("DB_MEMORY", "") else None
    if not limit:
        return 256
    return max(64, min(1024, limit // (2 * max(1, jobs))))


def db_name(env):
    return env.get("DB_NAME", "dfr")


def db_user(env):
    return env.get("DB_USER", "odoo")


def tools_memory(env):
    """Memory limit of one backup tools container (BACKUP_TOOLS_MEMORY, default 2g)."""
    value = env.get("BACKUP_TOOLS_MEMORY", "2g")
    if memory_mb(value) is None:
        raise DfrError(f"BACKUP_TOOLS_MEMORY={value!r} in config/{env.name}.env is not a size: write it like 2g")
    return value


def tools_pids(env):
    """Process limit of one backup tools container (pg_restore -j and zstd -T use a few each)."""
    return str(integer(env, "BACKUP_TOOLS_PIDS", 512, minimum=64))


def reserve_bytes(env):
    """Free space an unpack always leaves on the file system it writes to (BACKUP_RESERVE_MB,
    default 256 MB): a restore stops and cleans up before the live site's disk fills."""
    return integer(env, "BACKUP_RESERVE_MB", 256, minimum=0) << 20
