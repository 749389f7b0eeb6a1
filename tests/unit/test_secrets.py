"""Secrets: one 0600 file per secret, strong, generated once, never overwritten; the layout of
0.2 (one env file per consumer) carried over without losing a value."""
import base64
import hashlib
import stat

import pytest

from dfr_deploy import environments, secrets
from dfr_deploy.errors import DfrError


def env_with_secrets_in(tmp_path, name):
    return environments.resolve(name, overrides={"DFR_SECRETS_DIR": str(tmp_path / name)})


def test_generate_writes_private_strong_files(tmp_path):
    env = env_with_secrets_in(tmp_path, "prod")
    written = secrets.generate(env)
    assert sorted(p.name for p in written) == sorted(secrets.FILES)
    for path in written:
        # read only by the root part of an entrypoint, or (0444) by a service's own user
        assert stat.S_IMODE(path.stat().st_mode) == (0o444 if path.name in secrets.SHARED else 0o600), path
    assert stat.S_IMODE(env.secrets_dir.stat().st_mode) == 0o700
    values = {name: secrets.read(env, name) for name in secrets.FILES}
    assert values["smtp_password"] == "" and values["alert_webhook_token"] == ""
    strong = [v for name, v in values.items() if name not in secrets.OPTIONAL | secrets.DERIVED]
    assert len(set(strong)) == len(strong) == 6 and all(len(v) >= 32 for v in strong)
    assert "\n" not in "".join(strong)
    # nginx's basic auth line: {SSHA} of the monitoring password, the password itself not in it
    user, _, hashed = values["monitoring_htpasswd"].partition(":")
    raw = base64.b64decode(hashed.removeprefix("{SSHA}"))
    assert user == "dfr" and hashlib.sha1(values["monitoring_web_password"].encode() + raw[20:]).digest() == raw[:20]
    assert values["monitoring_web_password"] not in values["monitoring_htpasswd"]
    secrets.check(env)


def test_generate_never_overwrites(tmp_path):
    env = env_with_secrets_in(tmp_path, "prod")
    secrets.generate(env)
    before = {p.name: p.read_text() for p in env.secrets_dir.iterdir()}
    assert secrets.generate(env) == []
    assert {p.name: p.read_text() for p in env.secrets_dir.iterdir()} == before
    (env.secrets_dir / "admin_user_password").unlink()
    assert [p.name for p in secrets.generate(env)] == ["admin_user_password"]
    assert {p.name: p.read_text() for p in env.secrets_dir.iterdir() if p.name != "admin_user_password"} == \
        {k: v for k, v in before.items() if k != "admin_user_password"}


def test_the_old_layout_is_carried_over_value_for_value(tmp_path):
    env = env_with_secrets_in(tmp_path, "staging")
    env.secrets_dir.mkdir(parents=True)
    (env.secrets_dir / "db.env").write_text("# old\nPOSTGRES_PASSWORD=superuser-password-1\n"
                                            "DFR_DB_PASSWORD=application-password-2\n")
    (env.secrets_dir / "odoo.env").write_text("DB_PASSWORD=application-password-2\nODOO_ADMIN_PASSWD=master-password-3\n"
                                              "SMTP_PASSWORD=relay-password-4\n")
    with pytest.raises(DfrError, match="invoke secrets --env=staging"):
        secrets.check(env)
    secrets.generate(env)
    assert [secrets.read(env, n) for n in ("postgres_password", "db_password", "odoo_admin_passwd", "smtp_password")] \
        == ["superuser-password-1", "application-password-2", "master-password-3", "relay-password-4"]
    assert len(secrets.read(env, "admin_user_password")) >= 32
    assert not (env.secrets_dir / "db.env").exists() and not (env.secrets_dir / "odoo.env").exists()
    secrets.check(env)


@pytest.mark.parametrize("value", ["", "admin", "changeme", "short"])
@pytest.mark.parametrize("name", ["odoo_admin_passwd", "admin_user_password", "db_password"])
def test_production_refuses_missing_or_default_passwords(tmp_path, name, value):
    env = env_with_secrets_in(tmp_path, "prod")
    secrets.generate(env)
    (env.secrets_dir / name).write_text(value)
    with pytest.raises(DfrError, match=name):
        secrets.check(env)


def test_missing_secrets_say_how_to_create_them(tmp_path):
    env = env_with_secrets_in(tmp_path, "prod")
    with pytest.raises(DfrError, match="invoke secrets --env=prod"):
        secrets.check(env)
    with pytest.raises(DfrError, match="invoke secrets --env=prod"):
        secrets.read(env, "db_password")


def test_devel_secrets_are_generated_on_first_deploy(tmp_path):
    env = env_with_secrets_in(tmp_path, "devel")
    secrets.ensure(env)
    assert all((env.secrets_dir / name).exists() for name in secrets.FILES)
