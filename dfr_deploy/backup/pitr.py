"""`invoke restore --to-time/--to-lsn/--to-xid/--latest`: point-in-time recovery.

1. Check before touching anything: the target is inside the window (oldest base backup's
   consistency point .. last archived WAL; the live server is asked to archive its current
   segment first, so "now" is inside it), the chosen set's checksums.
2. Recover into a NEW docker volume: unpack the newest base backup before the target, start a
   temporary server on it (no network at all, the archive mounted read-only) with
   restore_command = dfr-restore-wal, the target and recovery_target_action=promote; follow it
   (replayed LSN, distance to the target); verify where it stopped; shut it down cleanly.
   The live cluster keeps running meanwhile; nothing of it is touched.
3. Swap by volume NAME, not by copying data: docker volumes cannot be renamed, and copying a
   cluster twice (live aside, recovered in) would double the restore time and need 2x the disk.
   common.yaml names the cluster's volume `${POSTGRES_DATA_VOLUME}`, which the tasks read from
   .docker/<env>/volumes.env; the swap stops Odoo and db, points the name at the recovered
   volume, starts db, neutralizes (outside prod), starts Odoo. The replaced volume is kept,
   untouched, as POSTGRES_DATA_PREVIOUS; any failure (or a kill, found by the journal on the
   next run) points the name back at it. It is removed at the next successful restore or with
   --drop-previous.

Why the temporary server does not archive: it runs with an empty archive_command, so WAL of the
new timeline waits in its pg_wal (.ready) and is archived only once the volume is live. An
abandoned recovery therefore never leaves a stray timeline in the shared archive.
"""
import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from ..docker import compose, docker
from ..errors import DfrError
from ..progress import elapsed, say, step
from . import basebackup, formats, journal, lock, manifest, publish, settings, wal
from . import restore as logical_restore
from .tools import BACKUPS, ODOO_DATA, Tools, human

JOURNAL = ".pitr-journal.json"
RESTORE_DIR = "/wal_restore"
DATA = "/var/lib/postgresql/data"
FILESTORE = f"{ODOO_DATA}/filestore"
LABEL = "dfr.pitr.project"
RESTORE_COMMAND = '/usr/local/bin/dfr-restore-wal "%f" "%p"'
# Settings the temporary server must share with the live one (hot standby refuses lower ones).
SHARED_SETTINGS = {"POSTGRES_MAX_CONNECTIONS": "100", "POSTGRES_SHARED_BUFFERS": "128MB",
                   "POSTGRES_WORK_MEM": "4MB", "POSTGRES_MAINTENANCE_WORK_MEM": "64MB"}


# ----------------------------------------------------------------------------- the target
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


# ----------------------------------------------------------------------------- the window
@dataclass
class Window:
    sets: list               # verified base backup sets, oldest first
    files: list              # archive files
    start: datetime = None   # consistency time of the oldest base backup
    end: datetime = None     # when the newest archived segment was written
    start_lsn: int = None
    end_lsn: int = None      # end of the newest archived segment

    def text(self):
        if not self.sets:
            return "no base backup yet (make one with `invoke backup --method=basebackup`)"
        return (f"{self.start:%Y-%m-%d %H:%M:%S}+00 .. {self.end:%Y-%m-%d %H:%M:%S}+00 "
                f"(LSN {wal.format_lsn(self.start_lsn)} .. {wal.format_lsn(self.end_lsn)})")


def window(env, tools):
    sets = [e for e in wal.base_backups(env, tools.backup_dir) if (e.data or {}).get("wal")]
    files = wal.list_archive(env, tools)
    result = Window(sets, files)
    if sets:
        oldest = min(sets, key=basebackup.consistent_time)
        result.start = basebackup.consistent_time(oldest)
        result.start_lsn = wal.parse_lsn(oldest.data["wal"]["end_lsn"])
        segments = [f for f in files if f.kind == "segment"]
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


# ----------------------------------------------------------------------------- volumes
def data_volume(env):
    return env.postgres_volume


def volume_exists(name):
    return docker()["volume", "inspect", name].run(retcode=None, timeout=60)[0] == 0


def previous_volume(env):
    from dotenv import dotenv_values
    if env.volumes_file.exists():
        return dotenv_values(env.volumes_file).get("POSTGRES_DATA_PREVIOUS") or ""
    return ""


def write_volumes(env, live, previous):
    """.docker/<env>/volumes.env, atomically (temp file, fsync, rename)."""
    path = env.volumes_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Written by point-in-time recovery: the docker volume holding the live cluster, and the\n"
                     "# one it replaced (kept until the next successful restore). Do not edit while it runs.\n"
                     f"POSTGRES_DATA_VOLUME={live}\nPOSTGRES_DATA_PREVIOUS={previous}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    manifest.fsync_path(path.parent)


def remove_volume(env, name):
    if name and name != data_volume(env):  # never the live one
        docker()["volume", "rm", "-f", name].run(retcode=None, timeout=120)


# ----------------------------------------------------------------------------- the temporary server
class TempServer:
    """A PostgreSQL container on a recovered volume: no network, archive read-only, no archiving."""

    def __init__(self, env, volume, name, target, timeline):
        self.env, self.volume, self.name, self.target, self.timeline = env, volume, name, target, timeline
        self.cid = None

    def start(self):
        options = {"restore_command": RESTORE_COMMAND, "recovery_target_action": "promote",
                   "recovery_target_timeline": str(self.timeline), "recovery_target_inclusive": "on",
                   "archive_command": "", "listen_addresses": "", "hot_standby": "on",
                   **self.target.settings()}
        cmd = docker()["run", "-d", "--name", self.name, "--label", f"{LABEL}={self.env.project_name}",
                       "--network", "none", "--shm-size", self.env.get("POSTGRES_SHM_SIZE", "256m"),
                       "-v", f"{self.volume}:{DATA}", "-v", f"{wal.archive_volume(self.env)}:{RESTORE_DIR}:ro",
                       "-e", f"WAL_RESTORE_DIR={RESTORE_DIR}"]
        for key, default in SHARED_SETTINGS.items():
            cmd = cmd["-e", f"{key}={self.env.get(key, default)}"]
        cmd = cmd[self.env.image("postgres"), "postgres"]
        for key, value in options.items():
            cmd = cmd["-c", f"{key}={value}"]
        self.cid = cmd.run(timeout=120)[1].strip()

    def state(self):
        out = docker()["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", self.cid].run(
            retcode=None, timeout=60)[1].split()
        return (out[0] == "true", int(out[1])) if len(out) == 2 else (False, -1)

    def logs(self):
        code, out, err = docker()["logs", self.cid].run(retcode=None, timeout=60)
        return out + err

    def psql(self, sql, db="postgres"):
        code, out, err = docker()["exec", "-u", "postgres", self.cid, "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                                  "-d", db, "-c", sql].run(retcode=None, timeout=300)
        return (out.strip() if code == 0 else None), err

    def failure(self):
        """The most telling lines of a server that stopped on its own."""
        lines = self.logs().splitlines()
        ours = [l.split("dfr-restore-wal: FATAL: ", 1)[1] for l in lines if "dfr-restore-wal: FATAL:" in l]
        if ours:
            return ours[-1]
        fatal = [l for l in lines if "FATAL:" in l or "PANIC:" in l]
        return "; ".join(l.split("FATAL:", 1)[-1].split("PANIC:", 1)[-1].strip() for l in fatal[-2:]) or \
            (lines[-1] if lines else "no log")

    def stop(self):
        """Fast shutdown (SIGINT: checkpoint, clean exit); True when it exited cleanly."""
        docker()["stop", "-t", "300", self.cid].run(retcode=None, timeout=360)
        return self.state() == (False, 0)

    def remove(self):
        if self.cid:
            docker()["rm", "-f", self.cid].run(retcode=None, timeout=60)


STATUS_SQL = ("SELECT json_build_object('recovery', pg_is_in_recovery(), 'lsn', pg_last_wal_replay_lsn()::text,"
              " 'time', to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),"
              " 'paused', CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE '' END,"
              " 'timeline', (SELECT timeline_id FROM pg_control_checkpoint()))")


def distance(target, state, end_lsn):
    if target.kind == "time" and state.get("time"):
        replayed = datetime.strptime(state["time"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
        return f"last replayed commit {replayed:%H:%M:%S}, {max(0.0, (target.time - replayed).total_seconds()):.0f} s before the target"
    lsn = wal.parse_lsn(state["lsn"]) if state.get("lsn") else None
    goal = target.lsn if target.kind == "lsn" else end_lsn
    if lsn is None or goal is None:
        return ""
    return f"{human(max(0, goal - lsn))} of WAL to go"


def follow(server, target, end_lsn, timeout):
    """Wait (bounded) until the server has promoted; progress every few seconds; its final state."""
    started = time.monotonic()
    last_said = 0.0
    while True:
        running, code = server.state()
        if not running:
            raise DfrError(f"recovery stopped: {server.failure()}")
        out, _ = server.psql(STATUS_SQL)
        state = json.loads(out) if out else None
        if state and not state["recovery"]:
            return state
        if state and state.get("paused") == "paused":
            raise DfrError(f"recovery paused instead of finishing: {server.failure()}")
        if time.monotonic() - last_said >= 5:
            last_said = time.monotonic()
            if state:
                say(f"      replayed up to {state['lsn']}; {distance(target, state, end_lsn)}; {elapsed(started)}")
            else:
                restored = re.findall(r'restored log file "([0-9A-F]{24})"', server.logs())
                say(f"      reaching consistency: {len(restored)} segment(s) restored"
                    + (f", last {restored[-1]}" if restored else "") + f"; {elapsed(started)}")
        if time.monotonic() - started > timeout:
            raise DfrError(f"recovery did not finish within {timeout} s (raise --timeout); nothing was changed")
        time.sleep(1)


def stop_point(logs):
    found = re.findall(r"(recovery stopping [^\n]*|last completed transaction was at log time [^\n]*)", logs)
    return found[-1] if found else ""


def check_result(server, target, win, final, db, timeline=None):
    """After promotion: it is a primary, the database is there, the stop point is right."""
    if server.psql("SELECT 1", db=db)[0] != "1":
        raise DfrError(f"the recovered cluster has no usable database {db}: nothing was changed")
    replayed = wal.parse_lsn(final["lsn"])
    if target.kind == "latest":
        # Everything archived must have been replayed: a damaged segment whose content (not its
        # gzip) is bad looks like the end of WAL to PostgreSQL, which would then promote early.
        # Only the timeline being recovered counts: the replaced cluster keeps archiving its old
        # timeline past the branch point until it is stopped.
        timeline = timeline or max([f.timeline for f in win.files if f.kind in ("segment", "history")], default=1)
        newest = max((f for f in win.files if f.kind == "segment" and f.timeline == timeline),
                     key=lambda f: f.number, default=None)
        if newest and replayed < wal.segment_start(newest.number):
            raise DfrError(f"recovery ended at {final['lsn']}, before the last archived segment {newest.name[:24]}: "
                           "a segment in between is damaged or missing (see `invoke wal-status`); nothing was changed")
    if target.kind == "lsn" and replayed < target.lsn:
        raise DfrError(f"recovery ended at {final['lsn']}, before {target.text}: nothing was changed")
    return stop_point(server.logs())


def recover_into(env, target, tools, timeout=3600, stamp=None, live_timeline=None, identity=None):
    """Recover into a new volume; returns (TempServer, info) with the promoted server running.

    On any error everything it created is removed; the live cluster is never touched.
    """
    stamp = stamp or datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    db = settings.db_name(env)
    win = window(env, tools)
    chosen = choose(target, win)
    info = {"set": chosen.name, "volume": f"{env.project_name}_postgres_data_{stamp}", "window": win.text()}
    say(f"      target {target.describe()}; window {win.text()}")
    say(f"      base backup {chosen.name} (consistent at {chosen.data['wal']['consistent_at']})")
    source = formats.detect(chosen.path, settings.jobs(env))  # every checksum, before anything is created
    identity = identity or env.get("BACKUP_AGE_IDENTITY", "") or None  # for an age-encrypted set
    source, scratch = logical_restore.preflight(env, tools, source, db, identity)
    volume = info["volume"]
    server = TempServer(env, volume, f"{env.project_name}-pitr-{stamp}", target, live_timeline or "latest")
    try:
        docker()["volume", "create", "--label", f"{LABEL}={env.project_name}", volume].run(timeout=60)
        say(f"      unpacking into the new volume {volume}")
        basebackup.unpack(env, tools, source.path, volume, "pitr-unpack")
        tools.run("pitr-signal", ["bash", "-c", "touch \"$1/recovery.signal\" && chown 999:999 \"$1/recovery.signal\"",
                                  "signal", basebackup.VERIFY_MOUNT],
                  what="writing recovery.signal", extra_mounts=[f"{volume}:{basebackup.VERIFY_MOUNT}"])
        say("      starting a temporary server (no network, archive read-only)")
        server.start()
        final = follow(server, target, win.end_lsn, timeout)
        info.update(final=final, stop=check_result(server, target, win, final, db, live_timeline), window_obj=win)
        say(f"      promoted at {final['lsn']} on timeline {final['timeline']}"
            + (f"; {info['stop']}" if info["stop"] else ""))
        return server, info
    except BaseException:
        discard(env, server, volume)
        raise
    finally:
        if scratch is not None:
            publish.discard(scratch, tools.remove)


def discard(env, server, volume):
    server.remove()
    remove_volume(env, volume)


@contextmanager
def recovered(env, target, tools=None, timeout=3600):
    """Recover into a new volume, yield (server, info) while the promoted server runs, then drop
    both: a look at the past without changing anything (the exactness tests use it)."""
    tools = tools or Tools(env)
    server, info = recover_into(env, target, tools, timeout=timeout)
    try:
        yield server, info
    finally:
        discard(env, server, info["volume"])


# ----------------------------------------------------------------------------- filestore
def fill_filestore(env, tools, server, win, target, stamp, db):
    """The live filestore folder is the newest there is (files are content-addressed and only
    removed when no row references them), so it stays; any file the recovered database
    references but the folder lacks (garbage-collected since) is copied in from the sets'
    archives, the first set made after the target first."""
    names, _ = server.psql("SELECT coalesce(string_agg(store_fname, E'\\n'), '') FROM ir_attachment"
                           " WHERE store_fname IS NOT NULL", db=db)
    if names is None:  # not an Odoo database (no ir_attachment)
        return 0
    def missing():
        return tools.helper("fs-check", "check-files", "--root", f"{FILESTORE}/{db}", stdin=names + "\n",
                            what="checking the filestore", odoo_data="ro")["missing"]
    gone = missing()
    if not gone:
        return len([n for n in names.splitlines() if n])
    when = target.time or datetime.now(timezone.utc)
    later = [e for e in win.sets if basebackup.consistent_time(e) >= when]
    earlier = [e for e in win.sets if basebackup.consistent_time(e) < when]
    for entry in later[:1] + earlier[-1:]:
        if entry.data.get("encrypted"):
            continue
        say(f"      {len(gone)} attachment file(s) missing: taking them from {entry.name}")
        side = f"{FILESTORE}/{db}_pitr_{stamp}"
        inner = f"{BACKUPS}/{entry.name}/filestore.tar.zst"
        try:
            tools.helper("fs-restore", "restore-filestore", "--archive", inner, "--dest", side,
                         what="unpacking a filestore archive", odoo_data="rw")
            tools.run("fs-merge", ["cp", "-a", "-n", "--", f"{side}/.", f"{FILESTORE}/{db}/"],
                      what="adding the missing files", odoo_data="rw")
        finally:
            tools.helper("fs-remove", "remove", "--root", FILESTORE, side, what="removing the side folder",
                         odoo_data="rw")
        gone = missing()
        if not gone:
            break
    if gone:
        raise DfrError(f"{len(gone)} attachment file(s) of the recovered database are in no filestore "
                       f"(first: {gone[0]}); nothing was changed")
    return len([n for n in names.splitlines() if n])


# ----------------------------------------------------------------------------- swap
def journal_path(tools):
    return journal.path(tools, JOURNAL)


def write_journal(tools, data):
    journal.write(tools, JOURNAL, data)


def db_up(env, timeout=300):
    """Start (or recreate, when the volume name changed) the db service and wait until healthy."""
    try:
        compose(env)["up", "--detach", "--no-deps", "db"].run(timeout=300)
    except (ProcessExecutionError, ProcessTimedOut) as error:
        raise DfrError(f"cannot start the database of {env.name}: {str(error).strip().splitlines()[-1]}") from None
    started = time.monotonic()
    while True:
        cid = compose(env)["ps", "--all", "-q", "db"].run(retcode=None, timeout=60)[1].strip()
        state = docker()["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                         cid].run(retcode=None, timeout=60)[1].split() if cid else []
        if state[-1:] == ["healthy"]:
            # PostgreSQL 15's checkpointer computes its first sleep while the startup process still
            # runs, without archive_timeout: after a clean start it sleeps a whole checkpoint_timeout
            # (5 min) and archive_timeout only applies from then on. A checkpoint wakes it up now,
            # so the writes right after the restore are archived within archive_timeout.
            docker()["exec", "-u", "postgres", cid, "psql", "-X", "-q", "-c", "CHECKPOINT"].run(retcode=None,
                                                                                                 timeout=600)
            return
        if state[:1] in (["exited"], ["dead"]) or time.monotonic() - started > timeout:
            raise DfrError(f"the database of {env.name} did not become healthy on the recovered volume")
        time.sleep(1)


def db_stop(env):
    compose(env)["stop", "--timeout", "60", "db"].run(retcode=None, timeout=180)


def roll_back(env, tools, state):
    """Point the stack back at the replaced volume and start it again."""
    previous, new = state["previous"], state["new"]
    say(f"putting the previous database volume {previous} back")
    logical_restore.stop_odoo(env)
    db_stop(env)
    write_volumes(env, previous, state.get("older_previous", ""))
    if state.get("previous_existed", True):
        db_up(env)
        if state.get("odoo_running", True):
            logical_restore.start_odoo(env, check=False)
    else:
        say("the replaced volume did not exist (database lost before the restore): the database stays stopped")
    remove_volume(env, new)
    journal_path(tools).unlink(missing_ok=True)


def remove_leftovers(env):
    """Temporary servers and recovered volumes a killed run left behind (never the live volume
    nor the kept previous one)."""
    project = env.project_name
    for cid in docker()["ps", "-aq", "--filter", f"label={LABEL}={project}"].run(retcode=None, timeout=60)[1].split():
        docker()["rm", "-f", cid].run(retcode=None, timeout=60)
    keep = {data_volume(env), previous_volume(env)}
    for name in docker()["volume", "ls", "-q", "--filter", f"label={LABEL}={project}"].run(
            retcode=None, timeout=60)[1].split():
        if name not in keep:
            say(f"removing {name}, left by an interrupted point-in-time restore")
            remove_volume(env, name)


def recover_interrupted(env, tools):
    """Finish what an interrupted point-in-time restore left (called under the lock)."""
    path = journal_path(tools)
    if not path.exists():
        remove_leftovers(env)
        return False
    state = json.loads(path.read_text())
    if state.get("phase") == "done":
        path.unlink()
        return False
    say(f"a point-in-time restore of {env.name} was interrupted ({state.get('phase')})")
    roll_back(env, tools, state)
    return True


def live_timeline(tools):
    if tools.db_container(required=False) is None:
        return None
    return int(tools.psql("SELECT timeline_id FROM pg_control_checkpoint()", what="reading the timeline"))


def archive_now(tools, timeout=120):
    """Have the live server archive its current segment, so the window reaches now."""
    if tools.db_container(required=False) is None:
        return False
    segment = tools.psql("SELECT pg_walfile_name(pg_switch_wal())", what="switching WAL")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = tools.psql("SELECT coalesce(last_archived_wal >= :'seg', false) FROM pg_stat_archiver",
                          variables={"seg": segment}, what="reading pg_stat_archiver")
        if done == "t":
            return True
        time.sleep(0.5)
    say(f"      WARNING: segment {segment} was not archived within {timeout} s (see `invoke wal-status`)")
    return False


def restore(env, to_time=None, to_lsn=None, to_xid=None, latest=False, neutralize_copy=None, force=False,
            confirm=None, drop_previous=False, timeout=3600, odoo_timeout=300, identity=None):
    """Recover the environment's cluster to a point in time and swap it in; returns the volume kept."""
    target = parse_target(to_time, to_lsn, to_xid, latest)
    tools = Tools(env)
    db = settings.db_name(env)
    production = env.name == "prod"
    neutralize_copy = (not production) if neutralize_copy is None else neutralize_copy
    if not env.bundled_db:
        raise DfrError("point-in-time recovery works on the bundled database only (DB_HOST is external): "
                       "use your database provider's point-in-time recovery")
    if production and not force:
        raise DfrError("restoring into production replaces the live registry: add --force (you will be asked "
                       "to type the database name)")
    tools.check_image()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    began = time.monotonic()
    total = 4
    with lock.held(tools.backup_dir, "restore (point in time)", env.name):
        try:
            logical_restore.recover(env, tools)
            recover_interrupted(env, tools)
            if production:
                logical_restore.confirm_production(env, db, confirm)
            with step(1, total, "archiving the current WAL segment, reading the window"):
                timeline = live_timeline(tools)
                if not archive_now(tools):
                    say("      the database is not running: recovering from what the archive holds")
            with step(2, total, f"recovering to {target.describe()} in a new volume (the live one is untouched)"):
                server, info = recover_into(env, target, tools, timeout=timeout, stamp=stamp,
                                            live_timeline=timeline, identity=identity)
            try:
                with step(3, total, "checking the filestore holds every attachment"):
                    count = fill_filestore(env, tools, server, info["window_obj"], target, stamp, db)
                    say(f"      {count} attachments, every file present")
                    if not server.stop():
                        raise DfrError(f"the temporary server did not shut down cleanly: {server.failure()}")
                    server.remove()
            except BaseException:
                discard(env, server, info["volume"])
                raise
            new = info["volume"]
            with step(4, total, f"swapping {new} in (the current volume is kept)"):
                previous = data_volume(env)
                state = {"phase": "swapping", "previous": previous, "new": new, "odoo_running": True,
                         "previous_existed": volume_exists(previous), "older_previous": previous_volume(env)}
                write_journal(tools, state)
                try:
                    logical_restore.stop_odoo(env)
                    db_stop(env)
                    write_volumes(env, new, previous)
                    db_up(env)
                    logical_restore._checkpoint("pitr-after-swap")
                    if neutralize_copy:
                        say("      neutralizing (no outgoing mail, no crons), new uuid and secret")
                        logical_restore.neutralize(env, db)
                        logical_restore.new_identity(tools, db)
                    logical_restore.start_odoo(env, timeout=odoo_timeout)
                    write_journal(tools, {**state, "phase": "done"})
                except BaseException:
                    say("the swap failed")
                    roll_back(env, tools, state)
                    raise
                journal_path(tools).unlink(missing_ok=True)
                older = state["older_previous"]
                if older and older not in (new, previous):
                    say(f"      removing the volume replaced by the restore before: {older}")
                    remove_volume(env, older)
                if drop_previous or not state["previous_existed"]:
                    remove_volume(env, previous)
                    write_volumes(env, new, "")
        finally:
            tools.close()
    kept = f"; the replaced volume is kept as {previous}" if previous_volume(env) else ""
    say(f"recovered {db} of {env.project_name} to {target.describe()} in {elapsed(began)}{kept}")
    return info
