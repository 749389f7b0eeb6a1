"""Issue 10, tests 4 and 5 (and issue 12, test 5): every operation that changes state enters one
door, which puts interrupted work right first.

A point-in-time restore killed in each phase of its swap is put right by the next logical
restore, backup, prune or deploy - the right database and volume in place, nothing lost (a
volume Odoo ran on is kept, with what users wrote to it). A logical restore killed before its
swap leaves a side database, filestore and running tools container only until the next
operation removes them.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from dfr_deploy import environments, labels
from dfr_deploy.backup import settings
from dfr_deploy.backup.pitr import volumes
from dfr_deploy.docker import docker

from .backup_helpers import invoke, seed, sets_of
from .http import wait_until


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory):
    s = make_stack("staging", IMAGE_TAG="prod", POSTGRES_ARCHIVE_TIMEOUT="5", BACKUP_JOBS="2",
                   BACKUP_DIR=str(tmp_path_factory.mktemp("door-backups")))
    s.deploy()
    seed(s, rows=300, files=3, marker="live")
    for args in (["backup", "--method=basebackup"], ["backup"]):
        result = invoke(s, *args)
        assert result.returncode == 0, result.stderr
    yield s
    for cid in docker()["ps", "-aq", "--filter", f"label={labels.PITR}={s.env.project_name}"].run(retcode=None)[1].split():
        docker()["rm", "-f", cid].run(retcode=None)
    for name in docker()["volume", "ls", "-q", "--filter", f"label={labels.PITR}={s.env.project_name}"].run(
            retcode=None)[1].split():
        docker()["volume", "rm", "-f", name].run(retcode=None)


def fresh(stack):
    """The environment as a new process sees it (volumes.env read again)."""
    return environments.resolve(stack.env.name, overrides=stack.env.overrides)


def marker(stack):
    return stack.exec_db("SELECT value FROM dfr_marker")


def odoo_healthy(stack):
    cid = stack.container("odoo")
    return docker()["inspect", "-f", "{{.State.Health.Status}}", cid].run(timeout=60)[1].strip() == "healthy"


def marker_in_volume(stack, volume):
    """Read dfr_marker from a cluster volume that is not live: a throwaway server on it."""
    cid = docker()["run", "-d", "--network", "none", "-v", f"{volume}:/var/lib/postgresql/data",
                   "-e", "POSTGRES_PASSWORD=unused-by-an-existing-cluster", stack.env.image("postgres")].run(
        timeout=120)[1].strip()
    try:
        wait_until(lambda: docker()["exec", cid, "pg_isready", "-q"].run(retcode=None, timeout=30)[0] == 0, 120,
                   what="the kept cluster to accept connections")
        return docker()["exec", "-u", "postgres", cid, "psql", "-X", "-qAt", "-d", "dfr", "-c",
                        "SELECT value FROM dfr_marker"].run(timeout=60)[1].strip()
    finally:
        docker()["rm", "-f", cid].run(retcode=None, timeout=60)


CASES = [("pitr-after-stop", "restore"), ("pitr-after-swap", "backup"), ("pitr-after-start", "backup-prune"),
         ("pitr-after-swap", "deploy"), ("pitr-after-start", "deploy"), ("pitr-after-stop", "backup-prune")]


@pytest.mark.parametrize("point,operation", CASES)
def test_a_half_done_point_in_time_swap_is_put_right_by_the_next_operation(stack, point, operation):
    live = fresh(stack).postgres_volume
    stack.exec_db(f"UPDATE dfr_marker SET value = 'before {point} {operation}'")
    before = marker(stack)
    killed = invoke(stack, "restore", "--latest", extra_env={"DFR_TEST_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    new = volumes.read(fresh(stack))["live"] if point != "pitr-after-stop" else None
    users_wrote = None
    if point == "pitr-after-start":
        # Odoo serves the recovered volume: a user writes to it before anything notices the kill
        assert fresh(stack).postgres_volume != live
        users_wrote = f"written on the recovered volume {operation}"
        stack.exec_db(f"UPDATE dfr_marker SET value = '{users_wrote}'")
    args = {"restore": ["restore", f"--file={sets_of(stack)[-1]}"], "backup": ["backup"],
            "backup-prune": ["backup-prune"], "deploy": ["deploy"]}[operation]
    result = invoke(stack, *args)
    assert result.returncode == 0, result.stderr
    assert "a point-in-time restore of staging was interrupted" in result.stderr, result.stderr
    # the stack runs on the volume it ran on before the restore, Odoo healthy on it
    env = fresh(stack)
    assert env.postgres_volume == live
    assert marker(stack) == ("live" if operation == "restore" else before)   # a restore then loaded its set
    assert wait_until(lambda: odoo_healthy(stack), 120, what="Odoo healthy")
    assert not (settings.backup_dir(env) / ".pitr-journal.json").exists()
    state = volumes.read(env)
    if users_wrote:
        assert state["previous"] == new, "the volume Odoo ran on is kept"
        assert marker_in_volume(stack, new) == users_wrote, "what users wrote there is still there"
    left = docker()["volume", "ls", "-q", "--filter", f"label={labels.PITR}={env.project_name}"].run()[1].split()
    assert set(left) <= {state["live"], state["previous"], *state["kept"]}
    assert docker()["ps", "-aq", "--filter", f"label={labels.PITR}={env.project_name}"].run()[1].strip() == ""


def test_a_killed_restore_leaves_its_side_copy_only_until_the_next_operation(stack):
    good = sets_of(stack)[-1]
    db_cid = stack.container("db")
    env = dict(os.environ, **{k: str(v) for k, v in stack.env.overrides.items()})
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "invoke"), "restore", f"--file={good}",
                             "--env=staging"], cwd=str(environments.ROOT), env=env, stderr=subprocess.PIPE, text=True)
    paused = None
    try:
        def loader():
            return docker()["ps", "-q", "--filter", f"label={labels.TOOLS}={stack.env.project_name}",
                            "--filter", f"label={labels.STEP}=pg_restore"].run(timeout=60)[1].split()
        found = wait_until(loader, 120, interval=0.1, what="the side database's loader to start")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        # the tools container outlives the killed command: hold it there (paused) to see it removed
        paused = found[0]
        docker()["pause", paused].run(retcode=None, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    sides = stack.exec_db("SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'dfr\\_restore\\_%'")
    assert sides, "the killed restore left its side database"
    assert docker()["ps", "-aq", "--filter", f"label={labels.TOOLS}={stack.env.project_name}"].run()[1].strip()
    before = marker(stack)
    result = invoke(stack, "backup")
    assert result.returncode == 0, result.stderr
    assert "removing" in result.stderr and "left by an interrupted" in result.stderr, result.stderr
    assert stack.exec_db("SELECT count(*) FROM pg_database WHERE datname LIKE 'dfr\\_restore\\_%'") == "0"
    assert stack.exec_db("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'dfr\\_restore\\_%'") == "0"
    folders = stack.compose("exec", "-T", "-u", "1000", "odoo", "ls", "/var/lib/odoo/filestore")[1].split()
    assert not [f for f in folders if f.startswith("dfr_restore_")], folders
    assert docker()["ps", "-aq", "--filter", f"label={labels.TOOLS}={stack.env.project_name}"].run()[1].strip() == ""
    assert not list(settings.backup_dir(stack.env).glob(".tmp-*"))
    assert marker(stack) == before and stack.container("db") == db_cid
