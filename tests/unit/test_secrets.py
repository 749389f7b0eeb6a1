import stat

import pytest
from dotenv import dotenv_values

from dfr_deploy import environments, secrets
from dfr_deploy.errors import DfrError


def env_with_secrets_in(tmp_path, name):
    return environments.resolve(name, overrides={"DFR_SECRETS_DIR": str(tmp_path / name)})


def test_generate_writes_private_strong_consistent_files(tmp_path):
    env = env_with_secrets_in(tmp_path, "prod")
    written = secrets.generate(env)
    assert sorted(p.name for p in written) == ["db.env", "odoo.env"]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(env.secrets_dir.stat().st_mode) == 0o700
    db, odoo = dotenv_values(env.secrets_dir / "db.env"), dotenv_values(env.secrets_dir / "odoo.env")
    assert db["DFR_DB_PASSWORD"] == odoo["DB_PASSWORD"]
    assert len({db["POSTGRES_PASSWORD"], db["DFR_DB_PASSWORD"], odoo["ODOO_ADMIN_PASSWD"]}) == 3
    assert all(len(v) >= 32 for v in (db["POSTGRES_PASSWORD"], odoo["ODOO_ADMIN_PASSWD"]))
    secrets.check(env)


def test_generate_never_overwrites(tmp_path):
    env = env_with_secrets_in(tmp_path, "prod")
    secrets.generate(env)
    before = (env.secrets_dir / "odoo.env").read_text()
    assert secrets.generate(env) == []
    assert (env.secrets_dir / "odoo.env").read_text() == before


def test_generate_refuses_to_complete_a_half_set(tmp_path):
    env = env_with_secrets_in(tmp_path, "staging")
    secrets.generate(env)
    (env.secrets_dir / "db.env").unlink()
    with pytest.raises(DfrError, match="db.env|odoo.env"):
        secrets.generate(env)


@pytest.mark.parametrize("value", ["", "admin", "changeme", "short"])
def test_production_refuses_missing_or_default_passwords(tmp_path, value):
    env = env_with_secrets_in(tmp_path, "prod")
    secrets.generate(env)
    path = env.secrets_dir / "odoo.env"
    db_password = dotenv_values(path)["DB_PASSWORD"]
    path.write_text(f"DB_PASSWORD={db_password}\nODOO_ADMIN_PASSWD={value}\n")
    with pytest.raises(DfrError, match="ODOO_ADMIN_PASSWD"):
        secrets.check(env)


def test_missing_secrets_say_how_to_create_them(tmp_path):
    env = env_with_secrets_in(tmp_path, "prod")
    with pytest.raises(DfrError, match="invoke secrets --env=prod"):
        secrets.check(env)


def test_mismatched_database_passwords_are_refused(tmp_path):
    env = env_with_secrets_in(tmp_path, "staging")
    secrets.generate(env)
    path = env.secrets_dir / "odoo.env"
    admin = dotenv_values(path)["ODOO_ADMIN_PASSWD"]
    path.write_text(f"DB_PASSWORD=another-long-password-123\nODOO_ADMIN_PASSWD={admin}\n")
    with pytest.raises(DfrError, match="differs"):
        secrets.check(env)


def test_devel_secrets_are_generated_on_first_deploy(tmp_path):
    env = env_with_secrets_in(tmp_path, "devel")
    secrets.ensure(env)
    assert (env.secrets_dir / "db.env").exists() and (env.secrets_dir / "odoo.env").exists()
