"""WAL positions (LSNs), segment names, and what an archived file is: pure functions."""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ...errors import DfrError

SEGMENT_SIZE = 16 << 20          # wal_segment_size of our clusters (initdb default)
SEGMENTS_PER_XLOGID = 0x100000000 // SEGMENT_SIZE
# Archived names: <WAL file name>.zst (dfr-archive-wal), or .gz (written by dfr-deploy 0.2).
SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial|\.[0-9A-F]{8}\.backup)?\.(?:zst|gz)$")
HISTORY = re.compile(r"^([0-9A-F]{8})\.history\.(?:zst|gz)$")
LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


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
