"""The db service: up, stop, readiness, and catalog SQL as the superuser.

Why the superuser only ever runs SQL in the `postgres` database, with search_path pg_catalog:
an Odoo database (the live one, a restored copy) holds objects that the application role - or a
backup someone handed us - defines: a view over a function, a trigger, an operator in public.
Reading them as the superuser would run that code as the superuser. Catalog work (databases,
roles, sessions, the archiver) needs none of it; whatever reads an Odoo database runs as the
application role or a restore's sandbox role (backup.runner's `query`), which can do no more
than that role could anyway. The one exception is `in_database`, for statements that run no
user code at all (REASSIGN OWNED, DROP OWNED), said where it is used.
"""
import time

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from .. import docker as d
from .. import secrets
from ..errors import DfrError
from ..passwords import scram_verifier
from . import services

# Every superuser session: no user-defined function, operator or table can be found by name.
SAFE_OPTIONS = "-c search_path=pg_catalog"


def ready_container(env, required=True):
    """The running db container that accepts connections; None (or a DfrError) otherwise."""
    cid = services.container(env, "db")
    if not cid:
        if required:
            raise DfrError(f"the database of {env.name} is not running: start it with "
                           f"`invoke deploy --env={env.name}` and retry")
        return None
    if d.docker()["exec", cid, "pg_isready", "-q", "-h", "127.0.0.1"].run(retcode=None, timeout=60)[0] != 0:
        raise DfrError(f"the database of {env.name} does not accept connections: "
                       f"see `invoke logs --env={env.name} --service=db`")
    return cid


class Catalog:
    """psql as the superuser over the db container's unix socket (peer auth, no password)."""

    def __init__(self, env):
        self.env = env
        self._cid = None    # reused: a compose lookup and a readiness probe cost more than most queries

    def running(self):
        """The db container when it runs and accepts connections, else None."""
        self._cid = ready_container(self.env, required=False)
        return self._cid

    def require(self):
        self._cid = ready_container(self.env)
        return self._cid

    def sql(self, text, variables=None, what="a database query"):
        """SQL in the `postgres` database; psql variables (:'name', :"name") carry every value."""
        return self._run("postgres", text, variables, what)

    def in_database(self, db, text, variables=None, what="a database query"):
        """Statements that run no user-defined code (ownership changes) inside another database."""
        return self._run(db, text, variables, what)

    def _run(self, db, text, variables, what):
        # If the daemon no longer knows the container or it stopped (a point-in-time recovery
        # replaces it), nothing ran: look it up again and retry once.
        for attempt in (1, 2):
            cid = self._cid or self.require()
            cmd = d.docker()["exec", "-i", "-u", "postgres", "-e", f"PGOPTIONS={SAFE_OPTIONS}", cid,
                             "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "--dbname", db]
            for key, value in (variables or {}).items():
                cmd = cmd["-v", f"{key}={value}"]
            code, out, err = (cmd["-f", "-"] << text).run(retcode=None, timeout=600)
            if code != 0 and attempt == 1 and (err or "").startswith("Error response from daemon"):
                self._cid = None
                continue
            break
        if code != 0:
            lines = (err or "").strip().splitlines()
            raise DfrError(f"{what} failed: {lines[-1] if lines else f'exit status {code}'}")
        return out.strip()

    def mark(self):
        """Commit a recovery mark now (MARKS_SQL); returns its time in epoch seconds (text)."""
        return self.sql(MARKS_SQL, what="writing a recovery mark")

    def marks(self, since_epoch):
        """The recovery marks from a moment on, in epoch seconds (text, microseconds exact)."""
        return read_marks(lambda text: self.sql(text, what="reading the recovery marks"), since_epoch)

    def exists(self, name):
        return self.sql("SELECT count(*) FROM pg_database WHERE datname = :'name'", {"name": name},
                        "looking up a database") == "1"


# Recovery marks: one row committed by the superuser in the `postgres` database (where nothing
# of the application's runs) each time the WAL is checked or archived on purpose. They give a
# point-in-time recovery a commit after any moment (recovery to a time stops at the first commit
# past it) and give a drill rows it knows were committed before its moment, to look for.
MARKS_TABLE = "public.dfr_recovery_marks"
MARKS_SQL = f"""
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS {MARKS_TABLE} (at timestamptz PRIMARY KEY);
REVOKE ALL ON {MARKS_TABLE} FROM PUBLIC;
DELETE FROM {MARKS_TABLE} WHERE at < pg_catalog.now() - interval '400 days';
INSERT INTO {MARKS_TABLE} VALUES (pg_catalog.clock_timestamp()) RETURNING extract(epoch FROM at);
"""


def read_marks(run_sql, since_epoch):
    """The marks from a minute before a moment on, as epoch seconds (text, microseconds exact),
    through any superuser psql runner `run_sql(text) -> output`. The moment is a number
    formatted here, never text from elsewhere. (Two queries: a CASE cannot guard a table that
    may not exist, the parser resolves it first.)"""
    if run_sql(f"SELECT pg_catalog.to_regclass('{MARKS_TABLE}') IS NOT NULL") != "t":
        return []
    since = f"{float(since_epoch):.6f}"
    text = run_sql(f"SELECT pg_catalog.string_agg(extract(epoch FROM at)::text, ',' ORDER BY at) FROM {MARKS_TABLE}"
                   f" WHERE at >= pg_catalog.to_timestamp({since}) - interval '1 minute'")
    return [m for m in (text or "").split(",") if m]


def up(env, timeout=300):
    """Start (or recreate, when the volume name changed) the db service and wait until healthy."""
    try:
        d.compose(env)["up", "--detach", "--no-deps", "db"].run(timeout=300)
    except (ProcessExecutionError, ProcessTimedOut) as error:
        raise DfrError(f"cannot start the database of {env.name}: {str(error).strip().splitlines()[-1]}") from None
    services.wait_healthy(env, ("db",), timeout, what=" (the database)")
    # PostgreSQL 15's checkpointer computes its first sleep while the startup process still
    # runs, without archive_timeout: after a clean start it sleeps a whole checkpoint_timeout
    # (5 min) and archive_timeout only applies from then on. A checkpoint wakes it up now, so
    # the writes right after a start are archived within archive_timeout.
    checkpoint(env)


def checkpoint(env):
    cid = services.container(env, "db")
    if cid:
        d.docker()["exec", "-u", "postgres", cid, "psql", "-X", "-q", "-c", "CHECKPOINT"].run(retcode=None, timeout=600)


def stop(env, grace=60):
    d.compose(env)["stop", "--timeout", str(grace), "db"].run(retcode=None, timeout=grace + 120)


def wait_until(predicate, timeout, interval=0.5):
    """Poll a catalog condition (bounded); True once it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


MONITOR_ROLE = "dfr_monitor"


def monitoring_role_sql(password):
    """The role postgres-exporter logs in as: pg_monitor only, read-only sessions, a few
    connections. Idempotent (every deploy); its password only as a SCRAM verifier."""
    verifier = scram_verifier(password)
    return f"""SET log_statement = 'none';
SET log_min_error_statement = 'panic';
DO $dfr$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{MONITOR_ROLE}') THEN CREATE ROLE {MONITOR_ROLE}; END IF;
END $dfr$;
ALTER ROLE {MONITOR_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  INHERIT CONNECTION LIMIT 3 PASSWORD '{verifier}';
GRANT pg_monitor TO {MONITOR_ROLE};
ALTER ROLE {MONITOR_ROLE} SET default_transaction_read_only = on;
ALTER ROLE {MONITOR_ROLE} SET statement_timeout = '10s';
"""


def monitoring_role(env):
    """Create or refresh the monitoring role in the bundled cluster (SQL on psql's stdin)."""
    Catalog(env).sql(monitoring_role_sql(secrets.read(env, "monitoring_db_password")),
                     what="creating the monitoring role")
