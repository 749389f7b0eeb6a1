"""Acceptance 3 and 5: waiting for PostgreSQL, failing clearly without it, stopping cleanly,
and updating only the modules whose code changed."""
import time

import pytest

from .conftest import docker_out
from .http import wait_until


@pytest.fixture(scope="module")
def bare(make_stack):
    """A devel project where the tests start services one by one (no deploy)."""
    return make_stack("devel")


def health(container):
    return docker_out("inspect", "-f", "{{.State.Health.Status}}", container).strip()


def test_without_database_odoo_exits_nonzero_within_the_limit_saying_why(bare):
    started = time.monotonic()
    code, logs = bare.run_once("odoo", environment={"WAIT_DB_TIMEOUT": "6"})
    took = time.monotonic() - started
    assert code == 69
    assert "PostgreSQL at db:5432 did not accept connections within 6 s" in logs
    assert took < 6 + 30  # the limit, plus container start/stop


def test_odoo_started_before_postgres_waits_then_comes_up(bare):
    bare.compose("up", "--detach", "--no-deps", "odoo")
    odoo = bare.container("odoo")
    wait_until(lambda: "waiting for PostgreSQL" in bare.compose("logs", "odoo")[1], 30, what="odoo to wait")
    assert docker_out("inspect", "-f", "{{.State.Running}}", odoo).strip() == "true"
    bare.compose("up", "--detach", "--no-deps", "db")
    wait_until(lambda: health(odoo) == "healthy", 180, what="odoo healthy after db came up")
    assert "is empty: initialising" in bare.compose("logs", "odoo")[1]


def test_restart_with_unchanged_code_updates_nothing(bare):
    odoo = bare.container("odoo")
    bare.compose("restart", "odoo")
    wait_until(lambda: health(odoo) == "healthy", 120, what="odoo healthy after restart")
    logs = bare.compose("logs", "--since", "2m", "odoo")[1]
    assert "all modules up to date" in logs


def test_changed_module_code_is_updated_and_only_it(bare):
    """Edit a module in the running container's addons path copy, restart, see exactly it updated."""
    odoo = bare.container("odoo")
    # The private addons folder is bind-mounted read-only in devel; add an addon the way a
    # developer does, on the host side, then change it.
    addon = bare.env.root / "odoo" / "custom" / "src" / "private" / "dfr_e2e_probe"
    addon.mkdir()
    try:
        (addon / "__init__.py").write_text("")
        (addon / "__manifest__.py").write_text("{'name': 'probe', 'version': '18.0.1.0.0', 'depends': ['base'], 'installable': True}\n")
        bare.compose("restart", "odoo")
        wait_until(lambda: health(odoo) == "healthy", 120, what="odoo healthy")
        bare.compose("exec", "-T", "-e", "ODOO_INIT_MODULES=dfr_e2e_probe", "odoo", "dfr-odoo-modules", "sync", "dfr")
        (addon / "models.py").write_text("# changed\n")
        changed = bare.compose("exec", "-T", "odoo", "dfr-odoo-modules", "changed", "dfr")[1].strip()
        assert changed == "dfr_e2e_probe"
    finally:
        for child in addon.iterdir():
            child.unlink()
        addon.rmdir()


def test_docker_stop_is_clean_and_quick(bare):
    odoo = bare.container("odoo")
    # The previous test changed files under --dev=reload, which makes Odoo re-exec itself; a
    # signal landing while the new interpreter starts would kill it before its handlers exist.
    # Start from a settled process, as an operator's `docker stop` would.
    bare.compose("restart", "odoo")
    wait_until(lambda: health(odoo) == "healthy", 120, what="odoo healthy before the stop")
    started = time.monotonic()
    docker_out("stop", "--time", "30", odoo, timeout=60)
    took = time.monotonic() - started
    assert took < 30
    assert docker_out("inspect", "-f", "{{.State.ExitCode}}", odoo).strip() == "0"
