"""Running as Odoo's user, reading the rendered config, reaching PostgreSQL.

The container starts as root only to read the secret files (compose secrets are root-owned 0600
bind mounts) and render the 0600 config for uid 1000; everything else runs as uid 1000. A
`docker exec` runs as root by default: `run_as_odoo()` re-executes the script as uid 1000 with
util-linux setpriv (no capability kept, none inherited), so exec'd commands work either way.
"""
import configparser
import os
import sys
import time

ODOO_UID = ODOO_GID = 1000
ODOO_HOME = "/var/lib/odoo"
SETPRIV = ["setpriv", f"--reuid={ODOO_UID}", f"--regid={ODOO_GID}", "--init-groups", "--inh-caps=-all"]


def log(tool, message):
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    print(f"{stamp} {tool}: {message}", file=sys.stderr, flush=True)


def run_as_odoo(argv=None):
    """As root, replace this process by the same command as uid 1000; otherwise do nothing."""
    if os.geteuid() != 0:
        return
    argv = argv or [sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    os.environ["HOME"] = ODOO_HOME
    os.execvp(SETPRIV[0], SETPRIV + ["--", *argv])


def config(path=None):
    """The [options] of the rendered config (ODOO_RC): the only place that holds the password."""
    path = path or os.environ.get("ODOO_RC", "/run/odoo/odoo.conf")
    conf = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            conf.read_file(handle)
    except OSError as error:
        sys.exit(f"cannot read the rendered config {path}: {error.strerror} (it is written when the "
                 "container starts; run this inside the running odoo container)")
    return dict(conf.items("options")) if conf.has_section("options") else {}


def connect(opts, dbname):
    """A psycopg2 connection as the application role of the config (never the superuser)."""
    import psycopg2
    return psycopg2.connect(
        host=opts.get("db_host") or None, port=opts.get("db_port") or None,
        user=opts.get("db_user") or None, password=opts.get("db_password") or None,
        sslmode=opts.get("db_sslmode") or None, dbname=dbname, connect_timeout=10,
        application_name="dfr-tools")
