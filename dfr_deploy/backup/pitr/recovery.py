"""Recovery into a new volume, beside the live cluster (which keeps running untouched): unpack the
newest base backup before the target, start a temporary server on it (server.py), follow it to
promotion, check where it stopped; then make sure the filestore holds every attachment."""
import time
from contextlib import contextmanager
from datetime import datetime, timezone

from ... import docker as d
from ... import labels
from ...errors import DfrError
from ...progress import say
from ...stack.database import Catalog
from .. import helper_cli, mounts, publish, settings
from .. import source as sources
from ..runner import give_to_tools
from ..sets import basebackup
from . import server as servers
from . import target as targets
from .volumes import remove as remove_volume


ASK = object()   # recover_into's default: ask the running database for its timeline


def recover_into(env, runner, target, timeout=3600, stamp=None, live_timeline=ASK, identity=None):
    """Recover into a new volume; returns (TempServer, info) with the promoted server running.

    On any error everything it created is removed; the live cluster is never touched.
    `live_timeline`: the running database's timeline, None when it is down (then the archive's
    newest line is followed); by default the database is asked.
    """
    live_timeline = running_timeline(env) if live_timeline is ASK else live_timeline
    stamp = stamp or datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    db = settings.db_name(env)
    win = targets.window(env, runner, live_timeline)
    chosen = targets.choose(target, win)
    info = {"set": chosen.name, "volume": f"{env.project_name}_postgres_data_{stamp}", "window": win.text()}
    say(f"      target {target.describe()}; window {win.text()}")
    say(f"      base backup {chosen.name} (consistent at {chosen.data['wal']['consistent_at']})")
    # every checksum (and the decryption of a sealed set) before anything is created
    began = time.monotonic()
    source, scratches = sources.open_source(env, runner, chosen.path, settings.jobs(env), identity)
    say(f"      checksums of the set: {time.monotonic() - began:.1f} s")
    volume = info["volume"]
    server = servers.TempServer(env, volume, f"{env.project_name}-pitr-{stamp}", target, win.timeline)
    try:
        d.docker()["volume", "create", "--label", f"{labels.PITR}={env.project_name}", volume].run(timeout=60)
        began = time.monotonic()
        say(f"      unpacking into the new volume {volume}")
        basebackup.unpack(env, runner, source.path, volume, "pitr-unpack", recovery_signal=True)
        say(f"      unpacked in {time.monotonic() - began:.1f} s; starting a temporary server "
            f"(no network, archive read-only)")
        began = time.monotonic()
        server.start()
        final = servers.follow(server, target, win.end_lsn, timeout)
        info.update(final=final, stop=servers.check_result(server, target, win, final, db, win.timeline),
                    window_obj=win)
        say(f"      promoted at {final['lsn']} on timeline {final['timeline']}, {time.monotonic() - began:.1f} s "
            f"after the server started" + (f"; {info['stop']}" if info["stop"] else ""))
        return server, info
    except BaseException:
        discard(env, server, volume)
        raise
    finally:
        for scratch in scratches:
            publish.discard(scratch)


def discard(env, server, volume):
    server.remove()
    remove_volume(env, volume)


@contextmanager
def recovered(env, runner, target, timeout=3600):
    """Recover into a new volume, yield (server, info) while the promoted server runs, then drop
    both: a look at the past without changing anything (the exactness tests use it)."""
    server, info = recover_into(env, runner, target, timeout=timeout)
    try:
        yield server, info
    finally:
        discard(env, server, info["volume"])


def attachment_names(server, db):
    """store_fname of every attachment of the recovered database, or None when it is not Odoo's.
    Read with COPY ... TO STDOUT (see TempServer.psql: no user-defined code runs)."""
    out, err = server.psql("COPY public.ir_attachment (store_fname) TO STDOUT", db=db)
    if out is None:
        if "does not exist" in (err or ""):
            return None
        raise DfrError(f"cannot read the attachments of the recovered database: {(err or '').strip()}")
    return [line for line in out.splitlines() if line and line != "\\N"]


def fill_filestore(env, runner, server, win, target, stamp, db):
    """The live filestore folder is the newest there is (files are content-addressed and only
    removed when no row references them), so it stays; any file the recovered database
    references but the folder lacks (garbage-collected since) is copied in from the sets'
    archives, the first set made after the target first."""
    names = attachment_names(server, db)
    if names is None:  # not an Odoo database (no ir_attachment)
        return 0
    odoo_rw = mounts.volume(runner.odoo_volume, mounts.ODOO_DATA, read_only=False)

    def missing():
        return runner.run("fs-check", helper_cli.check_files(f"{mounts.FILESTORE}/{db}"), "checking the filestore",
                          stdin="\n".join(names) + "\n", volumes=[odoo_rw])["missing"]

    gone = missing()
    when = target.time or datetime.now(timezone.utc)
    later = [e for e in win.sets if basebackup.consistent_time(e) >= when]
    earlier = [e for e in win.sets if basebackup.consistent_time(e) < when]
    for entry in (later[:1] + earlier[-1:]) if gone else []:
        if entry.data.get("encrypted"):
            continue
        say(f"      {len(gone)} attachment file(s) missing: taking them from {entry.name}")
        side = f"{mounts.FILESTORE}/{db}_pitr_{stamp}"
        give_to_tools(entry.path)
        try:
            runner.run("fs-restore", helper_cli.restore_filestore(f"{mounts.SET}/filestore.tar.zst", side,
                                                                  reserve_bytes=settings.reserve_bytes(env)),
                       "unpacking a filestore archive", volumes=[mounts.bind(entry.path, mounts.SET), odoo_rw])
            runner.run("fs-merge", helper_cli.merge_files(side, f"{mounts.FILESTORE}/{db}"), "adding the missing files",
                       volumes=[odoo_rw])
        finally:
            runner.run("fs-remove", helper_cli.remove([mounts.FILESTORE], [side]), "removing the side folder",
                       volumes=[odoo_rw])
        gone = missing()
        if not gone:
            break
    if gone:
        raise DfrError(f"{len(gone)} attachment file(s) of the recovered database are in no filestore "
                       f"(first: {gone[0]}); nothing was changed")
    return len(names)


def live_timeline(catalog):
    """The live cluster's timeline, or None when it is not running."""
    if catalog.running() is None:
        return None
    return int(catalog.sql("SELECT timeline_id FROM pg_control_checkpoint()", what="reading the timeline"))


def running_timeline(env):
    return live_timeline(Catalog(env))


def archive_now(catalog, timeout=120):
    """Have the live server archive its current segment, so the window reaches now.

    A recovery mark is committed first: recovery to a time stops at the first commit after it,
    and a quiet database may have none since - recovery would then end before the target (a
    moment of the window it cannot prove it reached), and refuse."""
    if catalog.running() is None:
        return False
    catalog.mark()
    segment = catalog.sql("SELECT pg_walfile_name(pg_switch_wal())", what="switching WAL")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = catalog.sql("SELECT coalesce(last_archived_wal >= :'seg', false) FROM pg_stat_archiver",
                           {"seg": segment}, "reading pg_stat_archiver")
        if done == "t":
            return True
        time.sleep(0.5)
    say(f"      WARNING: segment {segment} was not archived within {timeout} s (see `invoke wal-status`)")
    return False
