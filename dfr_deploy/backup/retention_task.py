"""`invoke backup-prune`: apply the retention plan to the sets of an environment."""
from ..progress import say
from . import listing, lock, publish, retention, settings
from .tools import Tools


def prune(env, dry_run=False, tools=None, locked=False, daily=None, weekly=None, monthly=None):
    """Remove the sets the plan drops (or only show them with dry_run); returns the plan."""
    tools = tools or Tools(env)
    folder = tools.backup_dir
    keep_d, keep_w, keep_m = settings.keep(env)
    keep_d = keep_d if daily is None else int(daily)
    keep_w = keep_w if weekly is None else int(weekly)
    keep_m = keep_m if monthly is None else int(monthly)

    def apply():
        entries = [e for e in listing.sets(folder) if e.data]
        candidates = [retention.Candidate(e.name, e.when, e.verified) for e in entries]
        plan = retention.plan(candidates, keep_d, keep_w, keep_m)
        say(f"retention of {env.name}: keep {keep_d} daily, {keep_w} weekly, {keep_m} monthly "
            f"-> {len(plan.keep)} kept, {len(plan.drop)} to remove")
        for e in entries:
            if e.name in plan.keep:
                say(f"  keep    {e.name}  ({', '.join(plan.keep[e.name])})")
        for name in plan.drop:
            if dry_run:
                say(f"  would remove {name}")
            else:
                say(f"  remove  {name}")
                publish.discard(folder / name, tools.remove)
        for e in listing.sets(folder):
            if not e.data:
                say(f"  left alone (not a readable set): {e.name}")
        return plan

    def apply_with_wal():
        plan = apply()
        # WAL older than the oldest kept base backup is no longer needed by any of them.
        from . import wal
        wal.prune(env, dry_run=dry_run, tools=tools, locked=True)
        return plan

    if locked:
        return apply_with_wal()
    with lock.held(folder, "backup-prune", env.name):
        from . import pitr, restore  # a restore killed half-way is put right first
        restore.recover(env, tools)
        pitr.recover_interrupted(env, tools)
        return apply_with_wal()
