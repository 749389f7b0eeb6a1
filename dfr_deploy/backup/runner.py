"""One step of the backup tools: a throwaway, hardened container of the backup image.

Exit codes come from `docker run` itself (never `compose run`, whose exit code is 0 whatever
happens). Every step runs as a non-root user with no capabilities, no new privileges, a
read-only root file system, bounded memory and processes, and only the mounts it needs (read-only
where it only reads). Steps that talk to PostgreSQL join the stack's internal `backend` network
and log in as the one role they need, with a password file made for them (credentials.py).
"""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from plumbum.commands.processes import ProcessTimedOut

from .. import docker as d
from .. import labels
from ..errors import DfrError
from ..progress import ticker
from . import helper_cli, mounts, settings
from .credentials import Credentials


@dataclass(frozen=True)
class Role:
    """A PostgreSQL login: the application role, the superuser, or a restore's sandbox role."""
    name: str
    password: str = field(repr=False)


def give_to_tools(path):
    """Folders a step writes into (and sets it reads) belong to the tools' user. BACKUP_DIR itself
    stays root-only, so this opens nothing to host accounts."""
    give_to(path, *mounts.TOOLS_USER)


def give_to(path, uid, gid):
    """chown -R (without following links) where the owner differs; only root may."""
    path = Path(path)
    if os.geteuid() != 0:
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            st = os.lstat(name)
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.lchown(name, uid, gid)


def new_folder(path):
    """A new private folder (0700) for a step to write into."""
    path = Path(path)
    path.mkdir(mode=0o700)
    give_to_tools(path)
    return path


class Runner:
    """Runs dfr-backup-helper steps for one environment."""

    def __init__(self, env, reader=False):
        """reader: for read-only operations outside the lock (their containers are not taken
        for leftovers of an interrupted operation by the one door's repair)."""
        self.env = env
        self.owner_label = labels.READER if reader else labels.TOOLS
        self.project = env.project_name
        self.image = env.image("backup")
        self.network = f"{self.project}_backend"
        self.odoo_volume = f"{self.project}_odoo_data"
        self.credentials = Credentials(settings.backup_dir(env))

    def check_image(self):
        d.check_engine()
        if not d.image_exists(self.image):
            raise DfrError(f"the backup tools image {self.image} is missing: build it with "
                           f"`invoke img-build --env={self.env.name} --service=backup` (or img-pull)")

    def close(self):
        self.credentials.close()

    # ------------------------------------------------------------------ command lines
    def command(self, step, argv, user=mounts.TOOLS_USER, volumes=(), role=None, network=None, pg_options=None,
                image=None):
        """`docker run --rm` of the tools image (or `image`) for one step."""
        uid, gid = user
        cmd = d.docker()["run", "--rm", "-i", "--label", f"{self.owner_label}={self.project}",
                         "--label", f"{labels.STEP}={step}", "--user", f"{uid}:{gid}",
                         "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only",
                         "--tmpfs", "/tmp:rw,nosuid,nodev,size=256m,mode=1777",
                         "--pids-limit", settings.tools_pids(self.env), "--memory", settings.tools_memory(self.env),
                         "-e", "HOME=/tmp"]
        if role is not None:
            pgpass = self.credentials.pgpass(role.name, role.password, user)
            cmd = cmd["--network", self.network, "-e", "PGHOST=db", "-e", "PGPORT=5432", "-e", f"PGUSER={role.name}",
                      "-e", f"PGPASSFILE={mounts.PGPASS}", "-e", "PGAPPNAME=dfr-backup",
                      "-v", f"{pgpass}:{mounts.PGPASS}:ro"]
            if pg_options:
                cmd = cmd["-e", f"PGOPTIONS={pg_options}"]
        else:
            cmd = cmd["--network", network or "none"]
        for mount in volumes:
            cmd = cmd["-v", mount.option()]
        return cmd[image or self.image][list(argv)]

    # ------------------------------------------------------------------ running
    def run(self, step, argv, what, stdin=None, stdin_path=None, watch=None, timeout=None, **options):
        """Run a step; its JSON answer, or a DfrError with the step's own last error lines."""
        cmd = self.command(step, argv, **options)
        if stdin is not None:
            cmd = cmd << stdin
        elif stdin_path is not None:
            cmd = cmd < str(stdin_path)
        with ticker(watch, what):
            try:
                code, out, err = cmd.run(retcode=None, timeout=timeout)
            except ProcessTimedOut:
                raise DfrError(f"{what} did not finish within {timeout} s") from None
        if code != 0:
            raise DfrError(f"{what} failed: {reason(code, err)}")
        for line in reversed((out or "").strip().splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return {}

    def query(self, sql, role, db, variables=None, what="a database query", if_relation=None):
        """SQL (from this code, never from a backup) in an Odoo database as `role`: the lines of
        psql's unaligned output. Never the superuser: see stack.database for why. With
        `if_relation`, None when that table does not exist (the query is not run)."""
        answer = self.run("query", helper_cli.query(db, variables, if_relation), what, stdin=sql, role=role)
        return answer.get("rows", []) if answer.get("relation", True) else None


def reason(code, err):
    """The helper's own summary line names the cause; the tool's last lines explain it."""
    lines = [line for line in (err or "").strip().splitlines() if line.strip()]
    mine = [line for line in lines if line.startswith("dfr-backup-helper: ")]
    others = [line for line in lines if not line.startswith("dfr-backup-helper: ")]
    if code == 137 and not lines:
        return "the tool was killed (out of memory, or stopped)"
    return "; ".join(mine[-1:] + others[-2:]) if lines else f"exit status {code}"
