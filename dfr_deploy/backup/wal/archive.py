"""The WAL archive volume of an environment: what it holds, which base backups need it, and its
retention.

Retention removes only WAL older than the oldest kept base backup: a segment is needed by a base
backup when its position is at or after the backup's start LSN, on any timeline, so the rule
compares positions, never file times. `.history` files (tiny, needed to follow timelines) are
never removed, and nothing is removed while no base backup exists.
"""
from ...progress import human, say
from .. import helper_cli, listing, mounts, settings
from .names import classify, parse_lsn, removable, segment_name, segment_number


def volume(env):
    return f"{env.project_name}_wal_archive"


def read(env, runner):
    """(every file of the archive volume, classified, oldest position first; {timeline: the text
    of its history file}), read-only, as postgres."""
    answer = runner.run("wal-list", helper_cli.wal_list(mounts.ARCHIVE), "listing the WAL archive",
                        user=mounts.POSTGRES_USER, volumes=[mounts.volume(volume(env), mounts.ARCHIVE)])
    files = [classify(*row) for row in answer.get("files", []) if not row[0].startswith(".")]
    histories = {}
    for name, text in (answer.get("histories") or {}).items():
        item = classify(name, 0, 0)
        if item.kind == "history" and isinstance(text, str):
            histories[item.timeline] = text
    return sorted(files, key=lambda f: (f.number, f.timeline, f.name)), histories


def list_files(env, runner):
    return read(env, runner)[0]


def base_backups(env, folder=None):
    """Verified base backup sets of the environment (listing order: oldest first)."""
    folder = folder or settings.backup_dir(env)
    return [e for e in listing.sets(folder) if e.data and e.data.get("method") == "basebackup" and e.verified]


def oldest_needed(sets):
    """Segment number where the oldest kept base backup starts, or None without any."""
    starts = [parse_lsn(e.data["wal"]["start_lsn"]) for e in sets if (e.data or {}).get("wal")]
    return segment_number(min(starts)) if starts else None


def prune(env, runner, dry_run=False, keep=None):
    """Remove archive files older than the oldest kept base backup (only the sets named in
    `keep`, when given: the retention plan's); returns their names. The caller holds the lock
    (commands.door)."""
    files = list_files(env, runner)
    needed = oldest_needed([e for e in base_backups(env) if keep is None or e.name in keep])
    if needed is None:
        say("WAL retention: no verified base backup, so every archived segment is kept")
        return []
    gone = removable(files, needed)
    say(f"WAL retention: keeping everything from {segment_name(1, needed)[8:]} (oldest base backup); "
        f"{len(gone)} older files ({human(sum(f.size for f in gone))}) {'would go' if dry_run else 'to remove'}")
    if gone and not dry_run:
        # Oldest first, so an interrupted run never leaves a hole before a kept segment.
        names = [f"{mounts.ARCHIVE}/{f.name}" for f in sorted(gone, key=lambda f: f.number)]
        for start in range(0, len(names), 500):
            runner.run("wal-prune", helper_cli.remove([mounts.ARCHIVE], names[start:start + 500]), "removing old WAL",
                       user=mounts.POSTGRES_USER, volumes=[mounts.volume(volume(env), mounts.ARCHIVE, read_only=False)])
    return [f.name for f in gone]
