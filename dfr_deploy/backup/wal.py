"""The WAL archive of an environment: what it holds, whether archiving works, and its retention.

`invoke wal-status` answers "could I recover to now?": the last segment PostgreSQL archived and
how old it is, failures from pg_stat_archiver, segments still waiting in pg_wal, the archive's
size, holes in the sequence, and the oldest segment a kept base backup still needs.

Retention (`prune`) removes only WAL older than the oldest kept base backup: a segment is needed
by a base backup when its position is at or after the backup's start LSN, on any timeline, so
the rule compares positions, never file times. `.history` files (tiny, needed to follow
timelines) are never removed, and nothing is removed while no base backup exists.
"""
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import DfrError
from ..progress import say
from . import listing, lock, settings
from .tools import Tools, human

SEGMENT_SIZE = 16 << 20          # wal_segment_size of our clusters (initdb default)
SEGMENTS_PER_XLOGID = 0x100000000 // SEGMENT_SIZE
ARCHIVE = "/wal_archive"
# Archived names: <WAL file name>.zst (dfr-archive-wal), or .gz (written by dfr-deploy 0.2).
SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial|\.[0-9A-F]{8}\.backup)?\.(?:zst|gz)$")
HISTORY = re.compile(r"^([0-9A-F]{8})\.history\.(?:zst|gz)$")
LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")

# Run in the tools image with the archive volume mounted read-only: names, sizes, mtimes.
LIST_CODE = (
    "import json, os, sys\n"
    "out = []\n"
    "for e in os.scandir(sys.argv[1]):\n"
    "    if e.is_file(follow_symlinks=False):\n"
    "        s = e.stat(follow_symlinks=False); out.append([e.name, s.st_size, s.st_mtime])\n"
    "print(json.dumps({'files': out}))\n")


# ------------------------------------------------------------------------ positions and names
def parse_lsn(text):
    """'16/B374D848' -> int, or a DfrError."""
    match = LSN.match(str(text or "").strip())
    if not match:
        raise DfrError(f"{text!r} is not a WAL position (LSN): write it as PostgreSQL shows it, e.g. 0/3000060")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def segment_number(lsn):
    return lsn // SEGMENT_SIZE


def segment_name(timeline, number):
    return f"{timeline:08X}{number // SEGMENTS_PER_XLOGID:08X}{number % SEGMENTS_PER_XLOGID:08X}"


def segment_start(number):
    return number * SEGMENT_SIZE


@dataclass
class ArchivedFile:
    name: str
    size: int
    mtime: float
    kind: str = "other"      # segment | partial | backup | history | other
    timeline: int = 0
    number: int = -1         # segment number (position // segment size)

    @property
    def when(self):
        return datetime.fromtimestamp(self.mtime, timezone.utc)


def classify(name, size, mtime):
    item = ArchivedFile(name, size, mtime)
    match = SEGMENT.match(name)
    if match:
        item.timeline = int(match.group(1), 16)
        item.number = int(match.group(2), 16) * SEGMENTS_PER_XLOGID + int(match.group(3), 16)
        suffix = match.group(4) or ""
        item.kind = "partial" if suffix == ".partial" else "backup" if suffix else "segment"
        return item
    match = HISTORY.match(name)
    if match:
        item.kind, item.timeline = "history", int(match.group(1), 16)
    return item


def holes(files):
    """Segment numbers missing between the first and the last archived segment of each timeline
    (a timeline's segments before its switch point are the parent's, so each is checked alone)."""
    found = {}
    for f in files:
        if f.kind == "segment":
            found.setdefault(f.timeline, set()).add(f.number)
    missing = []
    for timeline, numbers in sorted(found.items()):
        missing += [segment_name(timeline, n) for n in range(min(numbers), max(numbers) + 1) if n not in numbers]
    return missing


def removable(files, oldest_needed):
    """Archive files strictly before the segment `oldest_needed` (segments, partials, .backup
    files); never a .history file, never anything when no base backup exists (None)."""
    if oldest_needed is None:
        return []
    return [f for f in files if f.kind in ("segment", "partial", "backup") and f.number < oldest_needed]


# ------------------------------------------------------------------------ the archive volume
def archive_volume(env):
    return f"{env.project_name}_wal_archive"


def list_archive(env, tools=None):
    """Every file of the archive volume (read-only mount), classified, oldest position first."""
    tools = tools or Tools(env)
    answer = tools.run("wal-list", ["python3", "-c", LIST_CODE, ARCHIVE], what="listing the WAL archive",
                       extra_mounts=[f"{archive_volume(env)}:{ARCHIVE}:ro"])
    files = [classify(*row) for row in answer.get("files", []) if not row[0].startswith(".")]
    return sorted(files, key=lambda f: (f.number, f.timeline, f.name))


def base_backups(env, folder=None):
    """Verified base backup sets of the environment (listing order: oldest first)."""
    folder = folder or settings.backup_dir(env)
    return [e for e in listing.sets(folder) if e.data and e.data.get("method") == "basebackup" and e.verified]


def oldest_needed(sets):
    """Segment number where the oldest kept base backup starts, or None without any."""
    starts = [parse_lsn(e.data["wal"]["start_lsn"]) for e in sets if (e.data or {}).get("wal")]
    return segment_number(min(starts)) if starts else None


# ------------------------------------------------------------------------ status
ARCHIVER_SQL = """
SELECT json_build_object(
  'archived_count', archived_count, 'last_archived_wal', last_archived_wal,
  'last_archived_time', to_char(last_archived_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'failed_count', failed_count, 'last_failed_wal', last_failed_wal,
  'last_failed_time', to_char(last_failed_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'stats_reset', to_char(stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'current_wal', pg_walfile_name(pg_current_wal_lsn()), 'current_lsn', pg_current_wal_lsn()::text,
  'timeline', (SELECT timeline_id FROM pg_control_checkpoint()),
  'archive_timeout', current_setting('archive_timeout'),
  'archive_mode', current_setting('archive_mode'),
  'waiting', (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'),
  'failing_now', last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time))
FROM pg_stat_archiver
"""


def server_status(tools):
    """pg_stat_archiver and friends, or None when the database is not running."""
    if tools.db_container(required=False) is None:
        return None
    return json.loads(tools.psql(ARCHIVER_SQL, what="reading pg_stat_archiver"))


def status(env, tools=None):
    """Everything `invoke wal-status` prints, as a dict."""
    tools = tools or Tools(env)
    tools.check_image()
    files = list_archive(env, tools)
    sets = base_backups(env, tools.backup_dir)
    needed = oldest_needed(sets)
    segments = [f for f in files if f.kind == "segment"]
    newest = max(segments, key=lambda f: (f.number, f.timeline), default=None)
    server = server_status(tools)
    report = {
        "environment": env.name, "volume": archive_volume(env),
        "files": len(files), "segments": len(segments),
        "size_bytes": sum(f.size for f in files),
        "first_segment": segments[0].name[:24] if segments else None,
        "last_segment": newest.name[:24] if newest else None,
        "last_segment_time": newest.when.strftime("%Y-%m-%dT%H:%M:%SZ") if newest else None,
        "last_segment_age_seconds": round(datetime.now(timezone.utc).timestamp() - newest.mtime) if newest else None,
        "holes": holes(files),
        "base_backups": len(sets),
        "oldest_needed": None, "removable": 0, "removable_bytes": 0,
        "server": server,
    }
    if needed is not None:
        oldest = sets[0].data["wal"]
        report["oldest_needed"] = segment_name(int(oldest.get("timeline", 1)), needed)
        gone = removable(files, needed)
        report["removable"], report["removable_bytes"] = len(gone), sum(f.size for f in gone)
        report["missing_needed"] = [f"{n}" for n in holes([f for f in files if f.number >= needed])]
    return report


def format_status(rep):
    lines = [f"WAL archive of {rep['environment']} (volume {rep['volume']}):"]
    if rep["last_segment"]:
        lines.append(f"  last archived segment  {rep['last_segment']}  at {rep['last_segment_time']}"
                     f"  ({rep['last_segment_age_seconds']} s ago)")
    else:
        lines.append("  no segment archived yet")
    lines.append(f"  archive                {rep['segments']} segments, {rep['files']} files, {human(rep['size_bytes'])}"
                 + (f", first {rep['first_segment']}" if rep["first_segment"] else ""))
    lines.append("  holes                  " + (", ".join(rep["holes"][:5]) + (" ..." if len(rep["holes"]) > 5 else "")
                                                if rep["holes"] else "none"))
    if rep["oldest_needed"]:
        lines.append(f"  oldest needed          {rep['oldest_needed']} (start of the oldest of {rep['base_backups']}"
                     f" base backup(s)); {rep['removable']} older files ({human(rep['removable_bytes'])}) can be pruned")
    else:
        lines.append("  oldest needed          - (no base backup yet: `invoke backup --method=basebackup`)")
    server = rep["server"]
    if server is None:
        lines.append("  server                 not running (archiver statistics unavailable)")
        return "\n".join(lines)
    lines.append(f"  server                 timeline {server['timeline']}, writing {server['current_wal']} "
                 f"({server['current_lsn']}), archive_timeout {server['archive_timeout']}")
    lines.append(f"  archiver               {server['archived_count']} archived, last {server['last_archived_wal'] or '-'}"
                 f" at {server['last_archived_time'] or '-'}; {server['waiting']} segment(s) waiting in pg_wal")
    failures = f"  failures               {server['failed_count']}"
    if server["failed_count"]:
        failures += f", last {server['last_failed_wal']} at {server['last_failed_time']}"
        failures += (" - FAILING NOW: PostgreSQL keeps the segments and retries; see "
                     f"`invoke logs --env={rep['environment']} --service=db`" if server["failing_now"]
                     else " (archiving has succeeded since)")
    lines.append(failures)
    return "\n".join(lines)


def as_json(rep):
    return json.dumps(rep, indent=2)


# ------------------------------------------------------------------------ retention
def prune(env, dry_run=False, tools=None, locked=False):
    """Remove archive files older than the oldest kept base backup; returns their names."""
    tools = tools or Tools(env)

    def apply():
        files = list_archive(env, tools)
        needed = oldest_needed(base_backups(env, tools.backup_dir))
        if needed is None:
            say("WAL retention: no verified base backup, so every archived segment is kept")
            return []
        gone = removable(files, needed)
        say(f"WAL retention: keeping everything from {segment_name(1, needed)[8:]} (oldest base backup); "
            f"{len(gone)} older files ({human(sum(f.size for f in gone))}) {'would go' if dry_run else 'to remove'}")
        if gone and not dry_run:
            # Oldest first, so an interrupted run never leaves a hole before a kept segment.
            names = [f"{ARCHIVE}/{f.name}" for f in sorted(gone, key=lambda f: f.number)]
            for start in range(0, len(names), 500):
                tools.helper("wal-prune", "remove", "--root", ARCHIVE, *names[start:start + 500],
                             what="removing old WAL", extra_mounts=[f"{archive_volume(env)}:{ARCHIVE}"])
        return [f.name for f in gone]

    if locked:
        return apply()
    with lock.held(tools.backup_dir, "wal-prune", env.name):
        return apply()


def run_status(env, json_=False):
    """`invoke wal-status`."""
    tools = Tools(env)
    try:
        report = status(env, tools)
    finally:
        tools.close()
    return as_json(report) if json_ else format_status(report)
