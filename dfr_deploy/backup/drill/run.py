"""A restore drill, step by step (the caller has entered the one door of the environment).

Logical: the set restored into an empty throwaway stack by the product's own restore code, the
Odoo image started on it and healthy, then every table's rows and every attachment checked.
Point in time: a moment of the window recovered by the product's own recovery code, the
throwaway stack started on the recovered volume, Odoo healthy on it. The RTO is the seconds
from the drill's start to Odoo healthy on the restored data. The stack is always removed.
"""
import random
import time
from datetime import datetime, timedelta, timezone

from ...errors import DfrError
from ...faults import kill_point
from ...progress import say, step
from ...stack import database, odoo
from ...stack.database import Catalog
from .. import formats, listing, manifest, publish, roles, settings
from ..pitr import recovery
from ..pitr.target import Target, parse_target, window
from ..restore import run as restore_run
from ..runner import Runner
from . import checks, stack


def newest_set(env, method="logical"):
    sets = [e for e in listing.sets(settings.backup_dir(env)) if e.verified and e.data.get("method") == method]
    if not sets:
        raise DfrError(f"no verified {method} set of {env.name} to drill: make one with "
                       f"`invoke backup --env={env.name}{' --method=basebackup' if method == 'basebackup' else ''}`")
    return sets[-1].path


def logical(env, set_path, timeout=600):
    """Restore a set into a throwaway stack and prove it; returns the result."""
    began = time.monotonic()
    db = settings.db_name(env)
    source = formats.detect(set_path, settings.jobs(env))
    data = source.manifest or {}
    recorded = (data.get("database") or {}).get("rows")
    if source.kind == "encrypted-set":
        recorded = None   # read from the inner manifest once decrypted (by the restore)
    drill_env, scratch = stack.make(env)
    try:
        with step(1, 3, f"starting the throwaway stack {drill_env.project_name} (no port, no way out)"):
            database.up(drill_env)
            kill_point("drill-stack-up")
        with step(2, 3, f"restoring {set_path.name} into it with the product's restore"):
            restore_run.restore(drill_env, str(set_path), neutralize_copy=False, force=True, confirm=db,
                                timeout=timeout, own_folders=[settings.backup_dir(env)])
            rto = round(time.monotonic() - began, 1)
            say(f"      Odoo healthy on the restored data {rto} s after the drill began (RTO)")
            kill_point("drill-odoo-healthy")
        with step(3, 3, "checking every table's rows and every attachment's SHA-1"):
            runner, role = Runner(drill_env), roles.application(drill_env)
            try:
                if recorded is None:
                    raise DfrError(f"{set_path.name} records no row counts (made by an older dfr-deploy): only "
                                   "sets made since 0.3 can be drilled")
                tables = checks.row_counts(runner, role, db, recorded)
                files = checks.attachments(runner, role, db, runner.odoo_volume)
            finally:
                runner.close()
            say(f"      {tables} tables with their recorded rows, {files} attachments with their SHA-1")
    finally:
        stack.remove(drill_env)
        publish.discard(scratch)
    return {"kind": "logical", "set": set_path.name, "rto_seconds": rto, "tables": tables, "attachments": files}


def random_moment(env, runner):
    win = window(env, runner, recovery.running_timeline(env))
    if not win.sets:
        raise DfrError(f"no base backup to drill a point in time of {env.name}: make one with "
                       f"`invoke backup --env={env.name} --method=basebackup`")
    span = (win.end - win.start).total_seconds()
    moment = win.start + timedelta(seconds=random.SystemRandom().uniform(0, max(0.0, span)))
    return Target("time", moment.strftime("%Y-%m-%d %H:%M:%S.%f+00"), time=moment)


def point_in_time(env, to_time=None, timeout=600):
    """Recover a moment (given, else random in the window) and start Odoo on it; the result."""
    began = time.monotonic()
    runner = Runner(env)
    try:
        recovery.archive_now(Catalog(env))     # the window reaches now, with a commit after any moment
        target = parse_target(to_time=to_time) if to_time else random_moment(env, runner)
        with step(1, 3, f"recovering {target.describe()} into a new volume (the live cluster is untouched)"):
            server, info = recovery.recover_into(env, runner, target, timeout=3600)
            try:
                replayed = info["final"].get("time")
                if target.kind == "time" and replayed:
                    last = datetime.strptime(replayed, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
                    if last > target.time:
                        raise DfrError(f"recovery replayed a commit of {last} after the target {target.text}")
                marks = proven_marks(env, server, target, info["window_obj"]) if target.kind == "time" else None
                if not server.stop():
                    raise DfrError(f"the recovered server did not shut down cleanly: {server.failure()}")
                server.remove()
            except BaseException:
                recovery.discard(env, server, info["volume"])
                raise
    finally:
        runner.close()
    # The recovered cluster is the live one's copy: its roles have the live passwords.
    drill_env, scratch = stack.make(env, point_in_time_volume=info["volume"], secrets_of=env)
    try:
        with step(2, 3, f"starting the throwaway stack {drill_env.project_name} on the recovered volume"):
            database.up(drill_env)
        with step(3, 3, "starting Odoo on it"):
            odoo.start(drill_env, timeout=timeout)
            rto = round(time.monotonic() - began, 1)
            say(f"      Odoo healthy on the data of {target.text} {rto} s after the drill began (RTO); "
                f"{info.get('stop') or 'recovered to the end of the archive'}"
                + (f"; {marks} recovery marks of before the moment found" if marks is not None else ""))
    finally:
        stack.remove(drill_env)
        publish.discard(scratch)
    return {"kind": "pitr", "set": info["set"], "target": target.text, "rto_seconds": rto, "stop": info.get("stop", ""),
            "last_replayed_commit": info["final"].get("time"), "marks_checked": marks}


def proven_marks(env, server, target, win):
    """The recovery marks (stack.database) committed before the moment are all there."""
    def recovered_sql(text):
        out, error = server.psql(text)
        if out is None:
            raise DfrError(f"cannot read the recovered cluster's recovery marks: {error.strip()}")
        return out

    since = win.start.timestamp()
    recovered = database.read_marks(recovered_sql, since)
    return checks.marks_replayed(Catalog(env).marks(since), recovered, target.time.timestamp())


def record(env, set_name, result):
    """The drill's result next to the set it proved (drill.json, not part of the set's content)."""
    path = settings.backup_dir(env) / set_name
    if not path.is_dir():
        return
    target = path / "drill.json"
    history = manifest.load_sidecar(target) or []
    history.append({**result, "at": manifest.iso(manifest.now())})
    manifest.write_sidecar(target, history[-20:])

