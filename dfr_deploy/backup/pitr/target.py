"""What to recover to (a time, an LSN, a transaction, or the end of the archive) and from which
base backup: the recoverable window is the oldest base backup's consistency point .. the last
archived WAL, along the timeline being recovered (timelines.py), and the target must lie inside it."""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ...errors import DfrError
from ..sets import basebackup
from ..wal import archive, names as wal
from . import timelines


@dataclass
class Target:
    kind: str                # time | lsn | xid | latest
    text: str = ""
    time: datetime = None
    lsn: int = None
    xid: int = None

    def describe(self):
        return {"time": f"time {self.text}", "lsn": f"LSN {self.text}", "xid": f"transaction {self.text}",
                "latest": "the end of the WAL archive (--latest)"}[self.kind]

    def settings(self):
        """recovery_target_* options (inclusive: the target itself is part of the result)."""
        if self.kind == "time":
            return {"recovery_target_time": self.time.strftime("%Y-%m-%d %H:%M:%S.%f+00")}
        if self.kind == "lsn":
            return {"recovery_target_lsn": wal.format_lsn(self.lsn)}
        if self.kind == "xid":
            return {"recovery_target_xid": str(self.xid)}
        return {}


def parse_time(text):
    """'2026-11-21 10:32:05+00' (any ISO 8601 form; without a zone = UTC) -> aware UTC datetime."""
    raw = str(text).strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise DfrError(f"--to-time={text!r} is not a time: write it like \"2026-11-21 10:32:05+00\" (UTC if no zone)"
                       ) from None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_target(to_time=None, to_lsn=None, to_xid=None, latest=False):
    given = [name for name, value in (("--to-time", to_time), ("--to-lsn", to_lsn), ("--to-xid", to_xid),
                                      ("--latest", latest)) if value]
    if len(given) != 1:
        raise DfrError("give exactly one recovery target: --to-time, --to-lsn, --to-xid or --latest"
                       + (f" (got {', '.join(given)})" if given else ""))
    if to_time:
        moment = to_time if isinstance(to_time, datetime) else parse_time(to_time)
        moment = basebackup.utc(moment)
        return Target("time", moment.strftime("%Y-%m-%d %H:%M:%S.%f+00"), time=moment)
    if to_lsn:
        return Target("lsn", str(to_lsn), lsn=wal.parse_lsn(to_lsn))
    if to_xid:
        if not re.fullmatch(r"[0-9]+", str(to_xid).strip()) or int(to_xid) < 3:
            raise DfrError(f"--to-xid={to_xid!r} is not a transaction id (a whole number, as txid_current() shows)")
        return Target("xid", str(int(to_xid)), xid=int(to_xid))
    return Target("latest")


@dataclass
class Window:
    sets: list               # verified base backup sets, oldest first
    files: list              # archive files
    start: datetime = None   # consistency time of the oldest base backup
    end: datetime = None     # when the newest archived segment was written
    start_lsn: int = None
    end_lsn: int = None      # end of the newest archived segment
    timeline: int = 1        # the timeline recovered along (the live one, or the archive's newest)
    histories: dict = None   # {timeline: its history file's text}

    def text(self):
        if not self.sets:
            return (f"no base backup on timeline {self.timeline} or before it left its ancestors yet "
                    "(make one with `invoke backup --method=basebackup`)")
        return (f"{self.start:%Y-%m-%d %H:%M:%S}+00 .. {self.end:%Y-%m-%d %H:%M:%S}+00 "
                f"(LSN {wal.format_lsn(self.start_lsn)} .. {wal.format_lsn(self.end_lsn)})")


def window(env, runner, live_timeline=None):
    """The window along the live timeline (None when the database is down: the archive's newest
    timeline that no roll-back abandoned)."""
    files, histories = archive.read(env, runner)
    timeline = live_timeline or timelines.newest(files, histories, timelines.abandoned(env))
    line = timelines.lineage(histories, timeline)
    sets = [e for e in archive.base_backups(env) if (e.data or {}).get("wal") and timelines.on_line(e, line)]
    result = Window(sets, files, timeline=timeline, histories=histories)
    if sets:
        oldest = min(sets, key=basebackup.consistent_time)
        result.start = basebackup.consistent_time(oldest)
        result.start_lsn = wal.parse_lsn(oldest.data["wal"]["end_lsn"])
        segments = [f for f in files if f.kind == "segment" and f.timeline in line]
        newest = max(segments, key=lambda f: (f.number, f.timeline), default=None)
        newest_set_end = max(wal.parse_lsn(e.data["wal"]["end_lsn"]) for e in sets)
        result.end_lsn = max(wal.segment_start(newest.number + 1) if newest else 0, newest_set_end)
        result.end = max(([newest.when] if newest else []) + [basebackup.consistent_time(e) for e in sets])
    return result


def choose(target, win):
    """The newest base backup from which the target is reachable, or a DfrError with the window."""
    if not win.sets:
        raise DfrError(f"no base backup to recover from: {win.text()}")
    outside = f"{target.describe()} is outside the recoverable window {win.text()}; nothing was changed"
    if target.kind == "time":
        if target.time < win.start or target.time > win.end:
            raise DfrError(outside)
        usable = [e for e in win.sets if basebackup.consistent_time(e) <= target.time]
    elif target.kind == "lsn":
        if target.lsn < win.start_lsn or target.lsn > win.end_lsn:
            raise DfrError(outside)
        usable = [e for e in win.sets if wal.parse_lsn(e.data["wal"]["end_lsn"]) <= target.lsn]
    elif target.kind == "xid":
        # Only sets finished before the transaction started can replay its commit.
        usable = [e for e in win.sets if int(e.data["wal"].get("xid_horizon", 0)) <= target.xid]
        if not usable:
            raise DfrError(f"{target.describe()} started before the oldest base backup finished: "
                           f"the window is {win.text()}; nothing was changed")
    else:
        usable = win.sets
    return max(usable, key=basebackup.consistent_time)
