"""odoo/bin/dfr-odoo-config renders odoo.conf from the environment (run as a real program)."""
import configparser
import os
import stat
import subprocess
import sys

import pytest

SECRET = "s3cret-value-never-logged"


def render(root, tmp_path, **env):
    target = tmp_path / "odoo.conf"
    result = subprocess.run([sys.executable, str(root / "odoo/bin/dfr-odoo-config"), str(target)],
                            env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True)
    return result, target


def options(target):
    conf = configparser.RawConfigParser()
    conf.read(target)
    return dict(conf.items("options"))


def test_defaults_and_environment(root, tmp_path):
    result, target = render(root, tmp_path, DB_PASSWORD=SECRET, DB_NAME="dfr_ke", WORKERS="3", LIST_DB="false")
    assert result.returncode == 0, result.stderr
    opts = options(target)
    assert opts["db_password"] == SECRET
    assert opts["db_host"] == "db" and opts["db_port"] == "5432"
    assert opts["workers"] == "3" and opts["list_db"] == "False" and opts["proxy_mode"] == "True"
    assert opts["dbfilter"] == "^dfr_ke$"
    assert opts["data_dir"] == "/var/lib/odoo"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert SECRET not in result.stdout + result.stderr


def test_password_with_percent_and_hash_survives(root, tmp_path):
    tricky = "a%b#c;d=e f"
    result, target = render(root, tmp_path, ODOO_ADMIN_PASSWD=tricky)
    assert result.returncode == 0
    assert options(target)["admin_passwd"] == tricky


@pytest.mark.parametrize("env,field", [({"WORKERS": "four"}, "WORKERS"), ({"LIST_DB": "maybe"}, "LIST_DB"),
                                       ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"), ({"DB_PASSWORD": "a\nb"}, "DB_PASSWORD")])
def test_invalid_values_are_refused_naming_the_variable(root, tmp_path, env, field):
    result, target = render(root, tmp_path, **env)
    assert result.returncode != 0
    assert field in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_generic_odoo_conf_variables(root, tmp_path):
    result, target = render(root, tmp_path, ODOO_CONF_osv_memory_count_limit="0")
    assert result.returncode == 0
    assert options(target)["osv_memory_count_limit"] == "0"
