"""`invoke backup-prune` (and retention after a backup): the retention plan applied to the sets of
an environment, then the WAL that no kept base backup needs. The caller holds the lock."""
from ..progress import say
from . import listing, publish, retention, settings
from .wal import archive


def plan_by_kind(entries, daily, weekly, monthly):
    """The retention plan of each kind of set on its own: a logical set made the same day must
    never push the base backup (the start of point-in-time recovery) out of that day's slot,
    nor the reverse."""
    plan = retention.Plan()
    for method in sorted({e.data.get("method", "logical") for e in entries}):
        mine = [e for e in entries if e.data.get("method", "logical") == method]
        part = retention.plan([retention.Candidate(e.name, e.when, e.verified) for e in mine], daily, weekly, monthly)
        plan.keep.update(part.keep)
        plan.drop += part.drop
    return plan


def apply(env, runner, dry_run=False, daily=None, weekly=None, monthly=None):
    """Remove the sets the plan drops (or only show them with dry_run); returns the plan."""
    folder = settings.backup_dir(env)
    keep_d, keep_w, keep_m = settings.keep(env)
    keep_d = keep_d if daily is None else int(daily)
    keep_w = keep_w if weekly is None else int(weekly)
    keep_m = keep_m if monthly is None else int(monthly)
    entries = [e for e in listing.sets(folder) if e.data]
    plan = plan_by_kind(entries, keep_d, keep_w, keep_m)
    say(f"retention of {env.name}: keep {keep_d} daily, {keep_w} weekly, {keep_m} monthly of each kind "
        f"-> {len(plan.keep)} kept, {len(plan.drop)} to remove")
    for e in entries:
        if e.name in plan.keep:
            say(f"  keep    {e.name}  ({', '.join(plan.keep[e.name])})")
    for name in plan.drop:
        if dry_run:
            say(f"  would remove {name}")
        else:
            say(f"  remove  {name}")
            publish.discard(folder / name)
    for e in listing.sets(folder):
        if not e.data:
            say(f"  left alone (not a readable set): {e.name}")
    # WAL older than the oldest kept base backup is no longer needed by any of them; the kept
    # sets are named, so a dry run announces what the real run removes (the dropped sets are
    # still on disk then).
    archive.prune(env, runner, dry_run=dry_run, keep=set(plan.keep))
    return plan
