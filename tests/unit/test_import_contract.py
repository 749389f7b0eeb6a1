"""The layers of dfr_deploy only point down, no package has an import cycle, only the one door
takes the lock, and tasks.py calls only the commands layer: checked by import-linter on the real
code, and shown to fail on a copy of the code with each kind of violation planted in it."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(cwd):
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_code_keeps_every_contract():
    assert LINT.exists(), "import-linter is missing: run `bash setup.sh` (it installs the test extras)"
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


VIOLATIONS = {
    # an upward import: the stack layer reaching into the commands layer
    "upward": ("dfr_deploy/stack/services.py", "from ..commands import door  # noqa\n", "layers point down"),
    # a cycle inside the backup package: manifest <- publish, and now publish <- manifest
    "cycle": ("dfr_deploy/backup/manifest.py", "from . import publish  # noqa\n", "no import cycles"),
    # a second door: something other than commands.door taking the lock
    "lock": ("dfr_deploy/backup/prune.py", "from . import lock  # noqa\n", "only the one door takes the lock"),
}


@pytest.mark.parametrize("kind", sorted(VIOLATIONS))
def test_a_planted_violation_is_caught(kind, tmp_path):
    shutil.copytree(ROOT / "dfr_deploy", tmp_path / "dfr_deploy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path, line, contract = VIOLATIONS[kind]
    target = tmp_path / path
    text = target.read_text()
    # after the module's imports (its docstring and __future__ stay first)
    body = ast.parse(text).body
    last_import = max(node.end_lineno for node in body if isinstance(node, (ast.Import, ast.ImportFrom)))
    lines = text.splitlines(keepends=True)
    target.write_text("".join(lines[:last_import]) + line + "".join(lines[last_import:]))
    result = lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout, result.stdout


def test_tasks_call_only_the_commands_layer():
    tree = ast.parse((ROOT / "tasks.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            # `from dfr_deploy import environments` imports dfr_deploy.environments
            imported |= {f"{node.module}.{a.name}" if node.module == "dfr_deploy" else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    ours = {name for name in imported if name.startswith("dfr_deploy")}
    assert ours <= {"dfr_deploy.commands", "dfr_deploy.environments", "dfr_deploy.errors"}, ours
