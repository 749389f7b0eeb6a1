"""The invoke tasks as a user runs them: bad input gives one clear line and a non-zero exit."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INVOKE = str(Path(sys.executable).parent / "invoke")


def run(root, *args, **env):
    result = subprocess.run([INVOKE, *args], cwd=root, capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    return result.returncode, result.stdout, result.stderr.strip()


def test_every_task_option_is_documented(root):
    code, out, _ = run(root, "--list")
    tasks = [line.split()[0] for line in out.splitlines()[2:] if line.strip() and not line.startswith("    ")]
    assert {"img-base", "img-build", "img-pull", "img-push", "deploy", "stop", "logs", "status"} <= set(tasks)
    for name in tasks:
        code, out, _ = run(root, "--help", name)
        assert code == 0
        options = out.split("Options:")[1] if "Options:" in out else ""
        for line in options.splitlines():
            if line.strip().startswith("-"):
                assert len(line.split("   ")) > 1 and line.split("   ")[-1].strip(), f"{name}: undocumented {line}"


def test_unknown_environment(root):
    code, _, err = run(root, "deploy", "--env=qa")
    assert code == 1
    assert err == "error: unknown environment 'qa': use one of devel, staging, prod (e.g. --env=devel)"


def test_missing_production_secrets(root, tmp_path):
    code, _, err = run(root, "deploy", "--env=prod", DFR_SECRETS_DIR=str(tmp_path / "none"))
    assert code == 1
    assert err.splitlines()[-1].startswith("error: missing secret file")
    assert "invoke secrets --env=prod" in err
    assert not (tmp_path / "none" / "db_password").exists()  # production secrets are never invented


@pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI not installed")
def test_docker_not_running(root, tmp_path):
    code, _, err = run(root, "status", "--env=devel", DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    assert code == 1
    assert err.startswith("error: Docker is not running") and "\n" not in err


def test_secrets_task_generates_once(root, tmp_path):
    target = tmp_path / "staging"
    code, out, err = run(root, "secrets", "--env=staging", DFR_SECRETS_DIR=str(target))
    assert code == 0 and (target / "db_password").exists()
    first = (target / "db_password").read_text()
    # Odoo's admin password is shown once, to the operator who made it (never logged after)
    admin = (target / "admin_user_password").read_text()
    assert out.count(admin) == 1 and admin not in err
    code, out, _ = run(root, "secrets", "--env=staging", DFR_SECRETS_DIR=str(target))
    assert code == 0 and "nothing changed" in out and (target / "db_password").read_text() == first
    assert admin not in out


def test_restore_needs_a_file_or_a_point_in_time(root):
    code, _, err = run(root, "restore", "--env=staging")
    assert code == 1 and err.startswith("error: give --file=PATH")
    code, _, err = run(root, "restore", "--env=staging", "--file=x", "--latest")
    assert code == 1 and "not both" in err


def test_backup_method_is_checked(root):
    code, _, err = run(root, "backup", "--env=devel", "--method=snapshot")
    assert code == 1 and "unknown --method='snapshot'" in err
