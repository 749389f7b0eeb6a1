"""odoo/lib/dfr_odoo/passwords.py hashes and checks passwords exactly as Odoo 18 does (checked
here against Odoo's own CryptContext settings, copied from res_users.py and tools/config.py)."""
import json
import subprocess
import sys

import pytest
from passlib.context import CryptContext

from dfr_odoo import passwords

from .conftest import ODOO

# res_users.py _crypt_context() and tools/config.py crypt_context, as in Odoo 18.0
ODOO_USERS = CryptContext(["pbkdf2_sha512", "plaintext"], deprecated=["auto"], pbkdf2_sha512__rounds=600_000)
ODOO_MASTER = CryptContext(["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"], pbkdf2_sha512__rounds=600_000)


def test_a_user_password_is_stored_as_odoo_stores_it():
    hashed = passwords.hash_user_password("generated-admin-pw")
    assert hashed.startswith("$pbkdf2-sha512$600000$")
    assert ODOO_USERS.verify("generated-admin-pw", hashed) and not ODOO_USERS.verify("admin", hashed)
    assert not ODOO_USERS.needs_update(hashed)  # Odoo would not rehash it at the first login


def test_password_hashing_rounds_raise_the_work_factor_within_bounds():
    assert passwords.hash_rounds(passwords.hash_user_password("x-long-enough", rounds=700_000)) == 700_000
    assert passwords.hash_rounds(passwords.hash_user_password("x-long-enough", rounds=10)) == 600_000


@pytest.mark.parametrize("stored,candidate,active,logs_in", [
    (ODOO_USERS.hash("admin"), "admin", True, True),
    (ODOO_USERS.hash("admin"), "admin", False, False),       # archived users never log in
    (ODOO_USERS.hash("admin"), "Admin", True, False),
    ("admin", "admin", True, True),                            # plain text set by SQL: Odoo accepts it
    (ODOO_USERS.hash(""), "", True, False),                    # an empty password is refused first
    ("", "", True, False),
    (None, "admin", True, False),
    ("$pbkdf2-sha512$garbage", "admin", True, False),          # a malformed hash refuses all
])
def test_user_logs_in_answers_as_odoos_check_credentials(stored, candidate, active, logs_in):
    assert passwords.user_logs_in(candidate, stored, active) is logs_in


def test_master_password_is_hashed_once_and_odoo_verifies_it():
    hashed = passwords.hash_master_password("master-password-strong")
    assert ODOO_MASTER.verify("master-password-strong", hashed)
    assert passwords.hash_master_password(hashed) == hashed


def test_dfr_odoo_release_prints_the_source_release_as_one_json_line(root, tmp_path):
    fake = tmp_path / "odoo"
    fake.mkdir()
    (fake / "release.py").write_text("version_info = (18, 0, 0, 'final', 0, '')\nserie = '18.0'\nversion = '18.0+e'\n")
    result = subprocess.run([sys.executable, str(ODOO / "bin/dfr-odoo-release"), str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout) == {"version": "18.0+e", "version_info": [18, 0, 0, "final", 0, ""],
                                         "major_version": "18.0"}
    missing = subprocess.run([sys.executable, str(ODOO / "bin/dfr-odoo-release"), str(tmp_path / "none")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot read Odoo's release" in missing.stderr
