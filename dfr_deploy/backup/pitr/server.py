"""The temporary server of a point-in-time recovery: PostgreSQL on the recovered volume, with no
network at all, the WAL archive read-only and no archiving of its own - so an abandoned
recovery never leaves a stray timeline in the shared archive (WAL of the new timeline waits in
its pg_wal and is archived only once the volume is live). Followed until it has promoted, then
checked: a primary, the database there, stopped where it should have."""
import json
import re
import time
from datetime import datetime, timezone

from ... import docker as d
from ... import labels
from ...errors import DfrError
from ...progress import elapsed, human, say
from ..wal import archive, names as wal

RESTORE_DIR = "/wal_restore"
DATA = "/var/lib/postgresql/data"
RESTORE_COMMAND = '/usr/local/bin/dfr-restore-wal "%f" "%p"'
# Settings the temporary server must share with the live one (hot standby refuses lower ones).
SHARED_SETTINGS = {"POSTGRES_MAX_CONNECTIONS": "100", "POSTGRES_SHARED_BUFFERS": "128MB",
                   "POSTGRES_WORK_MEM": "4MB", "POSTGRES_MAINTENANCE_WORK_MEM": "64MB"}
# What the server image's entrypoint needs as root before it drops to postgres: give the
# unpacked files (written by the tools' user) to postgres. Nothing else.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID")


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
        cmd = d.docker()["run", "-d", "--name", self.name, "--label", f"{labels.PITR}={self.env.project_name}",
                         "--network", "none", "--shm-size", self.env.get("POSTGRES_SHM_SIZE", "256m"),
                         "--cap-drop", "ALL", *[a for cap in CAPABILITIES for a in ("--cap-add", cap)],
                         "--security-opt", "no-new-privileges", "--pids-limit", "512",
                         "-v", f"{self.volume}:{DATA}", "-v", f"{archive.volume(self.env)}:{RESTORE_DIR}:ro",
                         "-e", f"WAL_RESTORE_DIR={RESTORE_DIR}"]
        for key, default in SHARED_SETTINGS.items():
            cmd = cmd["-e", f"{key}={self.env.get(key, default)}"]
        cmd = cmd[self.env.image("postgres"), "postgres"]
        for key, value in options.items():
            cmd = cmd["-c", f"{key}={value}"]
        self.cid = cmd.run(timeout=120)[1].strip()

    def state(self):
        out = d.docker()["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", self.cid].run(
            retcode=None, timeout=60)[1].split()
        return (out[0] == "true", int(out[1])) if len(out) == 2 else (False, -1)

    def logs(self):
        code, out, err = d.docker()["logs", self.cid].run(retcode=None, timeout=60)
        return out + err

    def psql(self, sql, db="postgres"):
        """SQL as the superuser, with search_path pg_catalog. Only catalog queries, and in the
        recovered Odoo database only `COPY table TO STDOUT`, which runs no user-defined code
        (it refuses views, fires no trigger, and bypasses row security as the superuser)."""
        code, out, err = d.docker()["exec", "-u", "postgres", "-e", "PGOPTIONS=-c search_path=pg_catalog", self.cid,
                                    "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql].run(
            retcode=None, timeout=300)
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
        d.docker()["stop", "-t", "300", self.cid].run(retcode=None, timeout=360)
        return self.state() == (False, 0)

    def remove(self):
        if self.cid:
            d.remove_containers(self.cid)


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
        out, _ = server.psql(STATUS_SQL)
        state = json.loads(out) if out else None
        if state is None and not server.state()[0]:     # asked only when it did not answer
            raise DfrError(f"recovery stopped: {server.failure()}")
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
        # a short recovery is over in seconds: look often at first, then once a second
        time.sleep(0.25 if time.monotonic() - started < 10 else 1)


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
