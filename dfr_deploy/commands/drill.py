"""backup-drill: prove that a backup restores, in a throwaway stack (backup.drill)."""
import time

from ..backup import metrics, offsite, settings
from ..backup.drill import run as drill_run
from ..backup.export import resolve_set
from ..backup.wal import archive
from ..errors import DfrError
from ..progress import say
from . import door


def drill(env, set_name=None, to_time=None, random_time=False, from_offsite=False, wait=0.0):
    with metrics.recording(env, "drill"), door.enter(env, "backup-drill", wait=wait):
        return run_inside(env, set_name=set_name, to_time=to_time, random_time=random_time,
                          from_offsite=from_offsite)


def scheduled_job(env, wait):
    with metrics.recording(env, "drill"), door.enter(env, "job drill", wait=wait):
        return scheduled(env)


def run_inside(env, set_name=None, to_time=None, random_time=False, from_offsite=False, kinds=None):
    """One drill (a set, or a point in time), or the scheduled job's (both kinds, as far as
    there are sets for them). Results go next to the set and into the metrics."""
    if kinds is None:
        kinds = ["pitr"] if (to_time or random_time) else ["logical"]
    results = []
    for kind in kinds:
        began = time.monotonic()
        target_set = None
        try:
            if kind == "logical":
                target_set = resolve_set(env, set_name) if set_name else drill_run.newest_set(env)
                if from_offsite:
                    fetched = offsite.fetch(env, target_set.name)
                    try:
                        result = drill_run.logical(env, fetched)
                    finally:
                        offsite.discard_fetched(fetched)
                    result["from_offsite"] = offsite.remote(env)
                else:
                    result = drill_run.logical(env, target_set)
            else:
                result = drill_run.point_in_time(env, to_time=to_time)
                target_set = settings.backup_dir(env) / result["set"]
        except DfrError as error:
            metrics.drill(env, kind, ok=False, rto=None)
            if target_set is not None:
                drill_run.record(env, target_set.name, {"kind": kind, "ok": False, "message": str(error),
                                                        "seconds": round(time.monotonic() - began, 1)})
            raise DfrError(f"the restore drill ({kind}) failed: {error}") from None
        result["ok"] = True
        metrics.drill(env, kind, ok=True, rto=result["rto_seconds"])
        drill_run.record(env, target_set.name, result)
        say(f"drill passed: {kind}, RTO {result['rto_seconds']} s")
        results.append(result)
    return results


def scheduled(env):
    """The weekly job: the newest logical set, and a random moment when base backups exist."""
    kinds = [k.strip() for k in env.get("DRILL_KINDS", "logical,pitr").split(",") if k.strip()]
    if "pitr" in kinds and not archive.base_backups(env):
        say("no base backup yet: the point-in-time drill is skipped")
        kinds.remove("pitr")
    return run_inside(env, kinds=kinds, random_time=True)
