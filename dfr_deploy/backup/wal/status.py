"""`invoke wal-status`: could I recover to now? The last segment PostgreSQL archived and how old
it is, failures from pg_stat_archiver, segments still waiting in pg_wal, the archive's size,
holes in the sequence, and the oldest segment a kept base backup still needs."""
import json
from datetime import datetime, timezone

from ...progress import human
from ...stack.database import Catalog
from ..runner import Runner
from . import archive
from .names import holes, removable, segment_name

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
  'archive_timeout_seconds', (SELECT setting::int FROM pg_settings WHERE name = 'archive_timeout'),
  'last_archived_epoch', extract(epoch FROM last_archived_time),
  'archive_mode', current_setting('archive_mode'),
  'waiting', (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'),
  'failing_now', last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time))
FROM pg_stat_archiver
"""


def server_status(catalog):
    """pg_stat_archiver and friends (catalog only), or None when the database is not running."""
    if catalog.running() is None:
        return None
    return json.loads(catalog.sql(ARCHIVER_SQL, what="reading pg_stat_archiver"))


def status(env, runner=None, catalog=None):
    """Everything `invoke wal-status` prints, as a dict."""
    runner = runner or Runner(env, reader=True)
    runner.check_image()
    files = archive.list_files(env, runner)
    sets = archive.base_backups(env)
    needed = archive.oldest_needed(sets)
    segments = [f for f in files if f.kind == "segment"]
    newest = max(segments, key=lambda f: (f.number, f.timeline), default=None)
    server = server_status(catalog or Catalog(env))
    report = {
        "environment": env.name, "volume": archive.volume(env),
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


def run(env, json_=False):
    """`invoke wal-status`."""
    runner = Runner(env, reader=True)
    try:
        report = status(env, runner)
    finally:
        runner.close()
    return as_json(report) if json_ else format_status(report)
