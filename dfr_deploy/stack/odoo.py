"""Odoo's container as the other operations need it: stopped and started around a swap (with
the one health wait), `odoo neutralize` on a copy, and the release of the Odoo image."""
import json

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from .. import docker as d
from .. import labels
from ..errors import DfrError
from . import services


def stop(env):
    """Stop every running Odoo container; returns their ids (for `start`)."""
    return services.stop(env, "odoo", grace=int(env.get("ODOO_STOP_GRACE", "30") or 30))


def start(env, cids=None, timeout=300, check=True):
    """Start Odoo again and wait (bounded) until its health check passes."""
    return services.start(env, "odoo", cids=cids, timeout=timeout, check=check, what=" (Odoo)", probe=True)


def neutralize(env, db):
    """`odoo neutralize -d DB` in a one-off Odoo container (labelled, so an interrupted run's
    container is found and removed); exit code read with docker wait."""
    out = d.compose(env)["run", "--detach", "--no-deps", "--label", f"{labels.TOOLS}={env.project_name}",
                         "odoo", "odoo", "neutralize", "-d", db].run(timeout=300)[1]
    cid = out.strip().splitlines()[-1]
    try:
        code = int(d.docker()["wait", cid].run(timeout=600)[1].strip())
        logs = d.docker()["logs", cid].run(retcode=None, timeout=60)
    finally:
        d.remove_containers(cid)
    if code != 0:
        lines = [line for line in (logs[1] + logs[2]).splitlines() if line.strip()]
        raise DfrError(f"odoo neutralize failed on {db} (exit {code}): {lines[-1] if lines else 'no output'}")


def release(env):
    """Odoo's version of the stack's image ({version, version_info, major_version}), read by the
    image's own dfr-odoo-release from odoo/release.py (no server start, no network)."""
    image = env.image("odoo")
    try:
        out = d.docker()["run", "--rm", "--network", "none", "--entrypoint", "dfr-odoo-release", image].run(
            timeout=120)[1]
    except (ProcessExecutionError, ProcessTimedOut):
        raise DfrError(f"cannot read Odoo's version from {image}: build or pull it "
                       f"(`invoke img-build --env={env.name} --service=odoo`)") from None
    return json.loads(out.strip().splitlines()[-1])


WELL_KNOWN = 3   # dfr-odoo-admin check: the admin user logs in with a well-known password


def admin_login(env, db):
    """'ok', or the line of `dfr-odoo-admin check` when Odoo's `admin` user still logs in with a
    well-known password (admin, empty, its own login); None when Odoo is not running."""
    cid = services.container(env, "odoo")
    if not cid:
        return None
    code, out, err = d.docker()["exec", cid, "dfr-odoo-admin", "check", db].run(retcode=None, timeout=120)
    if code == 0:
        return "ok"
    line = ((err or out).strip().splitlines() or [f"exit status {code}"])[-1]
    return line if code == WELL_KNOWN else None


def set_admin_password(env, db):
    """The environment's generated password (admin_user_password) for Odoo's `admin` user of
    database `db`, stored as Odoo hashes it, by the running Odoo container (as the application
    role). False when Odoo is not running."""
    cid = services.container(env, "odoo")
    if not cid:
        return False
    code, out, err = d.docker()["exec", cid, "dfr-odoo-admin", "set-password", db].run(retcode=None, timeout=120)
    if code != 0:
        line = ((err or out).strip().splitlines() or [f"exit status {code}"])[-1]
        raise DfrError(f"setting the admin password of {db} failed: {line}")
    return True
