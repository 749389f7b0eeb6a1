"""Grandfather-father-son retention, by the manifest's timestamp (never the file name).

Keep the newest set of each of the N most recent days, ISO weeks and months that have a set
(the same set may count for a day, a week and a month), and always the newest verified set.
Only verified sets fill the day/week/month slots; damaged or unverified sets are removed when
a verified set makes them unnecessary, and sets whose manifest cannot be read are never
touched (a human should look at them).
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass
class Candidate:
    key: str            # the set's folder name (only to name it; never used for ordering)
    when: datetime      # manifest started_at
    verified: bool = True


@dataclass
class Plan:
    keep: dict = field(default_factory=dict)    # key -> [reasons]
    drop: list = field(default_factory=list)    # keys, oldest first


BUCKETS = {
    "daily": lambda t: t.date(),
    "weekly": lambda t: t.isocalendar()[:2],
    "monthly": lambda t: (t.year, t.month),
}


def plan(candidates, daily, weekly, monthly):
    """Which sets to keep (with why) and which to drop."""
    ordered = sorted(candidates, key=lambda c: (c.when.astimezone(timezone.utc), c.key), reverse=True)
    result = Plan()
    verified = [c for c in ordered if c.verified]
    if verified:
        result.keep.setdefault(verified[0].key, []).append("newest verified")
    for rule, count in (("daily", daily), ("weekly", weekly), ("monthly", monthly)):
        seen = []
        for c in verified:
            bucket = BUCKETS[rule](c.when.astimezone(timezone.utc))
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(bucket)
            result.keep.setdefault(c.key, []).append(f"{rule} {bucket_label(rule, bucket)}")
    result.drop = [c.key for c in reversed(ordered) if c.key not in result.keep]
    return result


def bucket_label(rule, bucket):
    if rule == "daily":
        return bucket.isoformat()
    if rule == "weekly":
        return f"{bucket[0]}-W{bucket[1]:02d}"
    return f"{bucket[0]}-{bucket[1]:02d}"
