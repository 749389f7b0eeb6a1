"""odoo/bin/dfr-odoo-config renders odoo.conf from the environment and the secret files (run as a
real program): secrets from files only, admin_passwd hashed as Odoo accepts it, the staging and
production guard, files owned by uid 1000 and mode 0600."""
import configparser
import os
import stat
import subprocess
import sys

import pytest
from passlib.context import CryptContext

from .conftest import ODOO

SECRET = "s3cret-value-never-logged"
STRONG = {"DB_PASSWORD": "db-password-strong-1", "ODOO_ADMIN_PASSWD": "master-password-strong",
          "ADMIN_USER_PASSWORD": "admin-user-strong-pw"}
# Odoo 18's own context for admin_passwd (odoo/tools/config.py)
ODOO_MASTER = CryptContext(schemes=["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"],
                           pbkdf2_sha512__rounds=600_000)


def secret_files(folder, **values):
    env = {}
    for name, value in values.items():
        path = folder / f"secret-{name.lower()}"
        path.write_text(value + "\n")
        path.chmod(0o600)
        env[f"{name}_FILE"] = str(path)
    return env


def render(folder, **env):
    target = folder / "odoo.conf"
    result = subprocess.run([sys.executable, str(ODOO / "bin/dfr-odoo-config"), str(target)],
                            env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True)
    return result, target


def options(target):
    conf = configparser.RawConfigParser()
    conf.read(target)
    return dict(conf.items("options"))


def test_defaults_environment_and_secret_files(shared_dir):
    env = secret_files(shared_dir, DB_PASSWORD=SECRET, ODOO_ADMIN_PASSWD="master-pw")
    result, target = render(shared_dir, DB_NAME="dfr_ke", WORKERS="3", LIST_DB="false", **env)
    assert result.returncode == 0, result.stderr
    opts = options(target)
    assert opts["db_password"] == SECRET
    assert opts["db_host"] == "db" and opts["db_port"] == "5432"
    assert opts["workers"] == "3" and opts["list_db"] == "False" and opts["proxy_mode"] == "True"
    assert opts["dbfilter"] == "^dfr_ke$"
    assert opts["data_dir"] == "/var/lib/odoo"
    info = target.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    if os.geteuid() == 0:  # the container's start: written by uid 1000, without CAP_CHOWN
        assert (info.st_uid, info.st_gid) == (1000, 1000)
    assert SECRET not in result.stdout + result.stderr


def test_admin_passwd_is_written_hashed_and_odoo_verifies_it(shared_dir):
    tricky = "a%b#c;d=e f"
    result, target = render(shared_dir, **secret_files(shared_dir, ODOO_ADMIN_PASSWD=tricky))
    assert result.returncode == 0, result.stderr
    stored = options(target)["admin_passwd"]
    assert stored.startswith("$pbkdf2-sha512$600000$") and tricky not in target.read_text()
    assert ODOO_MASTER.verify(tricky, stored) and not ODOO_MASTER.verify("admin", stored)


def test_an_admin_passwd_given_hashed_is_kept_as_is(shared_dir):
    hashed = ODOO_MASTER.hash("given-as-a-hash-123")
    result, target = render(shared_dir, DFR_ENV="prod",
                            **secret_files(shared_dir, **dict(STRONG, ODOO_ADMIN_PASSWD=hashed)))
    assert result.returncode == 0, result.stderr
    assert options(target)["admin_passwd"] == hashed


def test_admin_user_password_goes_to_its_own_private_file(shared_dir):
    result, target = render(shared_dir, **secret_files(shared_dir, ADMIN_USER_PASSWORD="generated-admin-pw"))
    assert result.returncode == 0, result.stderr
    admin_file = shared_dir / "admin-user-password"
    assert admin_file.read_text() == "generated-admin-pw\n"
    assert stat.S_IMODE(admin_file.stat().st_mode) == 0o600
    assert "generated-admin-pw" not in target.read_text()
    # a password removed from the secrets is removed at the next start
    result, _ = render(shared_dir)
    assert result.returncode == 0, result.stderr
    assert not admin_file.exists()


@pytest.mark.parametrize("name", ["DB_PASSWORD", "ODOO_ADMIN_PASSWD", "SMTP_PASSWORD", "ADMIN_USER_PASSWORD",
                                  "PGPASSWORD"])
def test_a_secret_in_the_environment_is_refused(shared_dir, name):
    result, target = render(shared_dir, **{name: SECRET})
    assert result.returncode == 78
    assert f"{name} is set in the container's environment" in result.stderr and f"{name}_FILE" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and SECRET not in result.stderr
    assert not target.exists()


def test_an_unreadable_or_multi_line_secret_file_is_refused(shared_dir):
    result, target = render(shared_dir, DB_PASSWORD_FILE=str(shared_dir / "missing"))
    assert result.returncode == 1 and "DB_PASSWORD_FILE points to" in result.stderr and not target.exists()
    (shared_dir / "two-lines").write_text("one\ntwo\n")
    result, target = render(shared_dir, DB_PASSWORD_FILE=str(shared_dir / "two-lines"))
    assert result.returncode == 1 and "must hold one line" in result.stderr and not target.exists()


@pytest.mark.parametrize("env_name,weak,missing", [
    ("prod", {"ODOO_ADMIN_PASSWD": "admin"}, None), ("prod", {"DB_PASSWORD": "short-pw"}, None),
    ("production", {}, "DB_PASSWORD"), ("prod", {"ADMIN_USER_PASSWORD": "changeme"}, None),
    ("staging", {}, "ADMIN_USER_PASSWORD")])
def test_staging_and_production_refuse_weak_or_missing_secrets(shared_dir, env_name, weak, missing):
    values = dict(STRONG, **weak)
    if missing:
        del values[missing]
    result, target = render(shared_dir, DFR_ENV=env_name, **secret_files(shared_dir, **values))
    assert result.returncode == 78, result.stderr
    name = missing or next(iter(weak))
    assert name in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_staging_needs_no_strong_database_password_but_production_does(shared_dir):
    values = {"ADMIN_USER_PASSWORD": STRONG["ADMIN_USER_PASSWORD"]}
    result, _ = render(shared_dir, DFR_ENV="staging", **secret_files(shared_dir, **values))
    assert result.returncode == 0, result.stderr
    result, _ = render(shared_dir, DFR_ENV="prod", **secret_files(shared_dir, **values))
    assert result.returncode == 78 and "DB_PASSWORD" in result.stderr


@pytest.mark.parametrize("env,field", [({"WORKERS": "four"}, "WORKERS"), ({"LIST_DB": "maybe"}, "LIST_DB"),
                                       ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"), ({"DB_NAME": "a\nb"}, "DB_NAME")])
def test_invalid_values_are_refused_naming_the_variable(shared_dir, env, field):
    result, target = render(shared_dir, **env)
    assert result.returncode != 0
    assert field in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_generic_odoo_conf_variables_but_never_a_secret_option(shared_dir):
    result, target = render(shared_dir, ODOO_CONF_osv_memory_count_limit="0")
    assert result.returncode == 0
    assert options(target)["osv_memory_count_limit"] == "0"
    result, _ = render(shared_dir, ODOO_CONF_db_password=SECRET)
    assert result.returncode == 78 and "DB_PASSWORD_FILE" in result.stderr and SECRET not in result.stderr
