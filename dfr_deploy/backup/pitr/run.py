"""`invoke restore --to-time/--to-lsn/--to-xid/--latest`, step by step (the caller has entered
the one door).

1. Check before touching anything: the target is inside the window (oldest base backup's
   consistency point .. last archived WAL; the live server is asked to archive its current
   segment first, so "now" is inside it), the chosen set's checksums.
2. Recover into a NEW docker volume (recovery.py); the live cluster keeps running, untouched.
3. The filestore holds every attachment the recovered database references.
4. Swap by volume name (swap.py, with a journal): neutralized outside production, Odoo started
   and healthy; any failure, or a kill found by the next operation, rolls back.
"""
import time
from datetime import datetime, timezone

from ...errors import DfrError
from ...faults import kill_point
from ...progress import elapsed, say, step
from ...stack import odoo
from ...stack.database import Catalog
from .. import guard, roles, settings
from ..restore import side_load
from ..runner import Runner
from . import recovery, swap, volumes
from .target import parse_target


def restore(env, to_time=None, to_lsn=None, to_xid=None, latest=False, neutralize_copy=None, force=False,
            confirm=None, drop_previous=False, timeout=3600, odoo_timeout=300, identity=None):
    """Recover the environment's cluster to a point in time and swap it in; returns its info."""
    target = parse_target(to_time, to_lsn, to_xid, latest)
    db = settings.db_name(env)
    production = env.name == "prod"
    neutralize_copy = (not production) if neutralize_copy is None else neutralize_copy
    if not env.bundled_db:
        raise DfrError("point-in-time recovery works on the bundled database only (DB_HOST is external): "
                       "use your database provider's point-in-time recovery")
    if production and not force:
        guard.production(env, db, force, confirm)
    runner, catalog = Runner(env), Catalog(env)
    runner.check_image()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    began, total = time.monotonic(), 4
    try:
        guard.production(env, db, force, confirm)
        with step(1, total, "archiving the current WAL segment, reading the window"):
            timeline = recovery.live_timeline(catalog)
            if not recovery.archive_now(catalog):
                say("      the database is not running: recovering from what the archive holds")
        with step(2, total, f"recovering to {target.describe()} in a new volume (the live one is untouched)"):
            server, info = recovery.recover_into(env, runner, target, timeout=timeout, stamp=stamp,
                                                 live_timeline=timeline, identity=identity)
        try:
            with step(3, total, "checking the filestore holds every attachment"):
                count = recovery.fill_filestore(env, runner, server, info["window_obj"], target, stamp, db)
                say(f"      {count} attachments, every file present")
                if not server.stop():
                    raise DfrError(f"the temporary server did not shut down cleanly: {server.failure()}")
                server.remove()
        except BaseException:
            recovery.discard(env, server, info["volume"])
            raise
        with step(4, total, f"swapping {info['volume']} in (the current volume is kept)"):
            state = swap.begin(env, info["volume"], int(info["final"]["timeline"]))
            try:
                swap.switch(env, state)
                if neutralize_copy:
                    say("      neutralizing (no outgoing mail, no crons), new uuid and secret")
                    odoo.neutralize(env, db)
                    side_load.new_identity(runner, roles.application(env), db)
                state = swap.phase(env, state, "starting")
                odoo.start(env, timeout=odoo_timeout)
                if neutralize_copy and env.name != "prod":
                    odoo.set_admin_password(env, db)   # staging's own admin password, as a restore does
                kill_point("pitr-after-start")
            except BaseException:
                say("the swap failed")
                swap.roll_back(env, runner, state)
                raise
            swap.finish(env, state, drop_previous)
    finally:
        runner.close()
    previous = volumes.read(env)["previous"]
    kept = f"; the replaced volume is kept as {previous}" if previous else ""
    say(f"recovered {db} of {env.project_name} to {target.describe()} in {elapsed(began)}{kept}")
    return info
