"""The Makefile's targets (the original design's commands) each delegate to the right invoke task
with the right options: read back from what `make -n` would run, and parsed by invoke itself
against tasks.py, so a renamed task or option fails here and not in an operator's terminal."""
import re
import shlex
import shutil
import subprocess

import pytest
from invoke import Collection
from invoke.parser import Parser

import tasks

from tests.conftest import ROOT

INVOKE = ".venv/bin/invoke"
A_SET = "/srv/dfr backups/2025-01-31T02:00:00Z"   # a space in it: one argument all the same

# Read once, by hand, from the Makefile: target -> the invoke command lines it runs.
EXPECTED = {
    "help": [["--list"]],
    "build_odoo": [["img-build", "--service=odoo"]],
    "build_postgres": [["img-build", "--service=postgres"]],
    "build_nginx": [["img-build", "--service=nginx"]],
    "build_all_images": [["img-build", "--service=odoo"], ["img-build", "--service=postgres"],
                         ["img-build", "--service=nginx"]],
    "deploy_dev": [["deploy", "--env=devel"]],
    "deploy_staging": [["deploy", "--env=staging"]],
    "deploy_production": [["deploy", "--env=prod"]],
    "stop_dev": [["stop", "--env=devel"]],
    "stop_staging": [["stop", "--env=staging"]],
    "stop_production": [["stop", "--env=prod"]],
    "logs_dev": [["logs", "--env=devel", "--follow"]],
    "logs_staging": [["logs", "--env=staging", "--follow"]],
    "logs_production": [["logs", "--env=prod", "--follow"]],
    "status_dev": [["status", "--env=devel"]],
    "status_staging": [["status", "--env=staging"]],
    "status_production": [["status", "--env=prod"]],
    "backup_db_prod": [["backup", "--env=prod"]],
    "backups_prod": [["backups", "--env=prod"]],
    "restore_db_staging": [["restore", "--env=staging", f"--file={A_SET}"]],
}
# What make needs to be told for a target to run at all.
VARIABLES = {"restore_db_staging": [f"BACKUP_FILE={A_SET}"]}


def make(*args):
    if not shutil.which("make"):
        pytest.fail("GNU make is not installed: the Makefile's targets cannot be checked (apt-get install make)")
    # MAKEFLAGS from a calling make would change what is printed
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True,
                          text=True, timeout=60, env=env)


def phony_targets():
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    return [name for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for name in line.split()]


def invoke_lines(target):
    """The invoke command lines `make -n TARGET` prints, as argument lists (quotes removed)."""
    done = make("-n", target, *VARIABLES.get(target, []))
    assert done.returncode == 0, done.stderr
    found = []
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if words and words[0] == INVOKE:
            found.append(words[1:])
        else:
            assert "invoke" not in line, f"{target}: invoke run another way than $(INVOKE): {line}"
    return found


def test_every_phony_target_that_calls_invoke_calls_the_expected_task():
    targets = phony_targets()
    assert len(targets) == len(set(targets)) and "deploy_production" in targets, targets
    delegating = {}
    for target in targets:
        lines = invoke_lines(target)
        if lines:
            delegating[target] = lines
    # a target added to the Makefile (or one that stopped delegating) must be added here too
    assert sorted(delegating) == sorted(EXPECTED)
    for target, lines in delegating.items():
        assert lines == EXPECTED[target], target


def test_targets_not_in_the_table_run_no_task():
    others = [t for t in phony_targets() if t not in EXPECTED]
    assert sorted(others) == ["render_config", "setup", "test"]
    for target in others:
        assert invoke_lines(target) == []


@pytest.mark.parametrize("target", sorted(t for t in EXPECTED if t != "help"))
def test_each_delegated_command_is_a_task_with_options_that_exist(target):
    """invoke's own parser, over tasks.py: the task exists and takes every option given, with
    that value (`help` runs `invoke --list`, a program option, not a task)."""
    parser = Parser(contexts=Collection.from_module(tasks).to_contexts())
    for words in EXPECTED[target]:
        parsed = parser.parse_argv(words)
        assert [context.name for context in parsed] == [words[0]]
        given = {name: arg.value for name, arg in parsed[0].args.items() if arg.got_value}
        wanted = {}
        for word in words[1:]:
            name, _, value = word[2:].partition("=")
            wanted[name.replace("-", "_")] = value or True
        assert given == wanted, target


def test_restore_db_staging_without_a_file_says_how_and_runs_nothing():
    done = make("restore_db_staging", "INVOKE=echo RAN-INVOKE")
    assert done.returncode == 2
    assert "usage: make restore_db_staging BACKUP_FILE=" in done.stdout
    assert "RAN-INVOKE" not in done.stdout + done.stderr
    # with the file, the same target really runs the command (echoed here, not run)
    done = make("restore_db_staging", f"BACKUP_FILE={A_SET}", "INVOKE=echo RAN-INVOKE")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"RAN-INVOKE restore --env=staging --file={A_SET}"
