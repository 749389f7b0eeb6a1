"""The backup-tools container and the stack's own psql, as plumbum commands.

Every tool runs in a throwaway container of the backup image (PostgreSQL client of the
server's major, zstd, age, rclone) on the stack's internal `backend` network. Exit codes come
from `docker run` itself (never `compose run`, whose exit code is 0 whatever happens). The
database password reaches libpq through a 0600 PGPASSFILE mounted read-only: never argv, never
a log line.
"""
import json
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from dotenv import dotenv_values
from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from ..docker import check_engine, compose, docker, image_exists
from ..errors import DfrError
from ..progress import elapsed, say
from . import settings

BACKUPS = "/backups"      # BACKUP_DIR inside the tools container
ODOO_DATA = "/var/lib/odoo"  # the odoo_data volume, as in the odoo container
INPUT = "/input"          # the folder of a file given to restore (read-only)
PGPASS = "/run/dfr/pgpass"


def human(size):
    size = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def tree_size(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


@contextmanager
def ticker(path, label, every=10.0):
    """While a long step runs, say how many bytes it has written so far and for how long."""
    stop = threading.Event()
    started = time.monotonic()

    def tick():
        while not stop.wait(every):
            if path and Path(path).exists():
                say(f"      {label}: {human(tree_size(path))} written, {elapsed(started)} elapsed")
            else:
                say(f"      {label}: {elapsed(started)} elapsed")

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)


class Tools:
    """Runs dfr-backup-helper (and friends) for one environment."""

    def __init__(self, env, backup_dir=None):
        self.env = env
        self.project = env.project_name
        self.image = env.image("backup")
        self.network = f"{self.project}_backend"
        self.odoo_volume = f"{self.project}_odoo_data"
        self.backup_dir = Path(backup_dir) if backup_dir else settings.backup_dir(env)
        self.owner = f"{os.getuid()}:{os.getgid()}"
        self._pgpass_dir = None
        self._db_cid = None    # the db container of the last check (see psql)

    # ------------------------------------------------------------------ preflight
    def check_image(self):
        check_engine()
        if not image_exists(self.image):
            raise DfrError(f"the backup tools image {self.image} is missing: build it with "
                           f"`invoke img-build --env={self.env.name} --service=backup` (or img-pull)")

    def db_container(self, required=True):
        out = compose(self.env)["ps", "--all", "-q", "db"].run(retcode=None, timeout=60)[1].strip()
        cid = out.splitlines()[-1] if out else ""
        running = cid and docker()["inspect", "-f", "{{.State.Running}}", cid].run(
            retcode=None, timeout=60)[1].strip() == "true"
        if not running:
            if required:
                raise DfrError(f"the database of {self.env.name} is not running: start it with "
                               f"`invoke deploy --env={self.env.name}` and retry")
            return None
        ready = docker()["exec", cid, "pg_isready", "-q", "-h", "127.0.0.1"].run(retcode=None, timeout=60)[0]
        if ready != 0:
            raise DfrError(f"the database of {self.env.name} does not accept connections: "
                           f"see `invoke logs --env={self.env.name} --service=db`")
        self._db_cid = cid
        return cid

    # ------------------------------------------------------------------ secrets
    def superuser(self):
        return self.env.get("POSTGRES_USER", "postgres")

    def pgpass(self):
        """A private PGPASSFILE (host temp folder, 0700/0600) for the superuser, who dumps (it
        can read every object, whoever owns it), and the application role, which restores (so
        it owns everything it loads, as Odoo expects)."""
        if self._pgpass_dir is None:
            lines = []
            for file, key, role in (("db.env", "POSTGRES_PASSWORD", self.superuser()),
                                    ("odoo.env", "DB_PASSWORD", settings.db_user(self.env))):
                password = dotenv_values(self.env.secrets_dir / file).get(key) or ""
                if not password:
                    raise DfrError(f"{key} is missing in {self.env.secrets_dir / file}: "
                                   f"run `invoke secrets --env={self.env.name}` or restore the file")
                escaped = password.replace("\\", "\\\\").replace(":", "\\:")
                lines.append(f"db:5432:*:{role}:{escaped}\n")
            self._pgpass_dir = Path(tempfile.mkdtemp(prefix="dfr-pgpass-"))
            path = self._pgpass_dir / "pgpass"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.writelines(lines)
        return self._pgpass_dir / "pgpass"

    def close(self):
        if self._pgpass_dir is not None:
            shutil.rmtree(self._pgpass_dir, ignore_errors=True)
            self._pgpass_dir = None

    # ------------------------------------------------------------------ running
    def command(self, step, args, db=False, odoo_data=None, input_dir=None, extra_mounts=(),
                network=None, pg_options=()):
        """`docker run --rm` of the tools image with the mounts a step needs."""
        cmd = docker()["run", "--rm", "-i", "--label", f"dfr.backup.project={self.project}",
                       "--label", f"dfr.backup.step={step}", "-v", f"{self.backup_dir}:{BACKUPS}"]
        if db:
            role = self.superuser() if db == "superuser" else settings.db_user(self.env)
            cmd = cmd["--network", self.network, "-e", "PGHOST=db", "-e", "PGPORT=5432",
                      "-e", f"PGUSER={role}", "-e", f"PGPASSFILE={PGPASS}",
                      "-e", "PGAPPNAME=dfr-backup", "-v", f"{self.pgpass()}:{PGPASS}:ro"]
        elif network:
            cmd = cmd["--network", network]
        else:
            cmd = cmd["--network", "none"]
        if odoo_data:
            cmd = cmd["-v", f"{self.odoo_volume}:{ODOO_DATA}{'' if odoo_data == 'rw' else ':ro'}"]
        if input_dir:
            cmd = cmd["-v", f"{input_dir}:{INPUT}:ro"]
        for mount in extra_mounts:
            cmd = cmd["-v", mount]
        cmd = cmd[list(pg_options)] if pg_options else cmd
        return cmd[self.image][args]

    def run(self, step, args, what, stdin=None, watch=None, timeout=None, **mounts):
        """Run a step; its JSON answer, or a DfrError with the tool's last error lines."""
        cmd = self.command(step, args, **mounts)
        if stdin is not None:
            cmd = cmd << stdin
        with ticker(watch, what):
            try:
                code, out, err = cmd.run(retcode=None, timeout=timeout)
            except ProcessTimedOut:
                raise DfrError(f"{what} did not finish within {timeout} s; nothing was published") from None
        if code != 0:
            lines = [l for l in (err or "").strip().splitlines() if l.strip()]
            # the helper's own summary line names the cause; the tool's last lines explain it
            mine = [l for l in lines if l.startswith("dfr-backup-helper: ")]
            others = [l for l in lines if not l.startswith("dfr-backup-helper: ")]
            reason = "; ".join(mine[-1:] + others[-2:]) if lines else f"exit status {code}"
            if code == 137 and not lines:
                reason = "the tool was killed (out of memory, or stopped)"
            raise DfrError(f"{what} failed: {reason}")
        for line in reversed((out or "").strip().splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return {}

    def helper(self, step, *args, **kwargs):
        return self.run(step, ["dfr-backup-helper", *args], **kwargs)

    def remove(self, path):
        """rm -rf a path under BACKUP_DIR written by root in a container."""
        inner = f"{BACKUPS}/{Path(path).relative_to(self.backup_dir)}"
        self.helper("remove", "remove", "--root", BACKUPS, inner, what=f"removing {path}")

    # ------------------------------------------------------------------ the stack's psql
    def psql(self, sql, db="postgres", variables=None, what="a database query"):
        """Run SQL as the superuser over the db container's unix socket (peer auth)."""
        # The container found by the last check is reused (a compose lookup and a readiness
        # probe cost more than most queries). If the daemon no longer knows it or it stopped
        # (point-in-time recovery replaces it), nothing ran: look it up again and retry once.
        for attempt in (1, 2):
            cid = self._db_cid or self.db_container()
            cmd = docker()["exec", "-i", "-u", "postgres", cid, "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                           "--dbname", db]
            for key, value in (variables or {}).items():
                cmd = cmd["-v", f"{key}={value}"]
            code, out, err = (cmd["-f", "-"] << sql).run(retcode=None, timeout=600)
            if code != 0 and attempt == 1 and (err or "").startswith("Error response from daemon"):
                self._db_cid = None
                continue
            break
        if code != 0:
            raise DfrError(f"{what} failed: {(err or '').strip().splitlines()[-1] if err.strip() else code}")
        return out.strip()

    def odoo_release(self):
        """Odoo's version of the stack's image, read from odoo/release.py (no server start)."""
        image = self.env.image("odoo")
        code = ("import json, runpy; r = runpy.run_path('/opt/odoo/src/odoo/release.py'); "
                "print(json.dumps({'version': r['version'], 'version_info': list(r['version_info']), "
                "'major_version': r.get('major_version') or r['serie']}))")
        try:
            out = docker()["run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c", code].run(
                timeout=120)[1]
        except ProcessExecutionError:
            raise DfrError(f"cannot read Odoo's version from {image}: build or pull it "
                           f"(`invoke img-build --env={self.env.name} --service=odoo`)") from None
        return json.loads(out.strip().splitlines()[-1])

    def free_bytes(self, *paths, **mounts):
        return self.helper("df", "df", *paths, what="checking free disk space", **mounts)
