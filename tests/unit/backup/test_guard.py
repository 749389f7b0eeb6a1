"""Production restores need --force and the database name typed (no containers needed: both
are refused before anything is touched)."""
import io

import pytest

from dfr_deploy import environments
from dfr_deploy.backup import guard
from dfr_deploy.backup.restore import run as restore
from dfr_deploy.errors import DfrError


@pytest.fixture
def prod(tmp_path):
    return environments.resolve("prod", overrides={"BACKUP_DIR": str(tmp_path / "backups"),
                                                   "DFR_SECRETS_DIR": str(tmp_path / "secrets")})


def test_production_without_force_is_refused_first(prod, tmp_path):
    (tmp_path / "set").mkdir()
    with pytest.raises(DfrError, match="add --force"):
        restore.restore(prod, str(tmp_path / "set"))


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_typed_name_must_match(monkeypatch, prod):
    monkeypatch.setattr("sys.stdin", Terminal())
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "dfr-typo")
    with pytest.raises(DfrError, match="'dfr-typo' is not the database name 'dfr': nothing was changed"):
        guard.production(prod, "dfr", True, None)
    assert "PRODUCTION database 'dfr'" in asked[0]
    monkeypatch.setattr("builtins.input", lambda prompt: " dfr ")
    guard.production(prod, "dfr", True, None)        # the right name (spaces trimmed) goes on


def test_scripts_must_pass_the_name_without_a_terminal(monkeypatch, prod):
    monkeypatch.setattr("sys.stdin", io.StringIO("dfr\n"))       # piped input is not a confirmation
    with pytest.raises(DfrError, match="--confirm=dfr"):
        guard.production(prod, "dfr", True, None)
    guard.production(prod, "dfr", True, "dfr")
    with pytest.raises(DfrError, match="not the database name"):
        guard.production(prod, "dfr", True, "staging")
