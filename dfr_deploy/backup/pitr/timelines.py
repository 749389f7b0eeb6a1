"""Which timeline a recovery follows, and which base backups lie on it.

Every point-in-time restore starts a new timeline, and the shared archive keeps them all: a
restore to before the newest base backup leaves that backup on the timeline it abandoned, and a
swap that was rolled back leaves the recovered cluster's timeline (it ran as the live one for a
while and archived its history). PostgreSQL can recover onto timeline T only from a base backup
made on T or on one of T's ancestors *before* T's line left it; its history file
(`0000000T.history`: one "parent switch-LSN reason" line per ancestor) says where. So:

* the target timeline is the live one while the database runs; without it, the newest timeline
  of the archive that was not abandoned by a roll-back (recorded here, in the backup folder) nor
  descends from one (PostgreSQL's "latest" would follow the abandoned branch and lose what was
  written since on the live one);
* a base backup is usable when its timeline is on the target's line and it ended before the line
  left that timeline.
"""
import json
import re

from ... import durable
from .. import settings
from ..wal import archive, names as wal

ABANDONED = ".pitr-abandoned-timelines.json"
# "<parent timeline>\t<switch LSN>\t<reason>"; anything else in the (untrusted) file is ignored
LINE = re.compile(r"^\s*([0-9]{1,10})\s+([0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})(?:\s|$)")


def parse_history(text):
    """[(ancestor timeline, LSN where the line left it), ...] of one history file."""
    return [(int(m.group(1)), wal.parse_lsn(m.group(2))) for m in map(LINE.match, (text or "").splitlines()) if m]


def lineage(histories, timeline):
    """{timeline on the line to `timeline`: the LSN where the line left it (None: never)}."""
    line = {tli: lsn for tli, lsn in parse_history(histories.get(timeline, ""))}
    line[timeline] = None
    return line


def on_line(entry, line):
    """Is the base backup set `entry` a start for a recovery along `line` (see lineage)?"""
    info = (entry.data or {}).get("wal") or {}
    timeline = int(info.get("timeline", 1))
    if timeline not in line:
        return False
    return line[timeline] is None or wal.parse_lsn(info["end_lsn"]) <= line[timeline]


def abandoned(env):
    """Timelines a rolled-back point-in-time swap left in the archive."""
    path = settings.backup_dir(env, create=False) / ABANDONED
    if not path.exists():
        return set()
    return {int(t) for t in json.loads(path.read_text()).get("timelines", [])}


def abandon(env, runner, timeline):
    """Record that `timeline` must never be followed again (a roll-back put the older one back),
    if the recovered cluster archived its history: one that never ran as the live cluster left
    nothing to follow, and PostgreSQL may give its number to the next recovery."""
    if not timeline or int(timeline) in abandoned(env):
        return
    _, histories = archive.read(env, runner)
    if int(timeline) not in histories:
        return
    known = abandoned(env) | {int(timeline)}
    durable.write_atomic(settings.backup_dir(env) / ABANDONED, json.dumps({"timelines": sorted(known)}))


def newest(files, histories, skip):
    """The newest timeline of the archive that neither is in `skip` nor descends from one."""
    seen = {f.timeline for f in files if f.kind in ("segment", "partial", "history") and f.timeline} | {1}
    good = [t for t in seen if not (set(lineage(histories, t)) & set(skip))]
    return max(good, default=1)
