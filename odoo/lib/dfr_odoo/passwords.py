"""Passwords the way Odoo 18 hashes and checks them, with passlib (Debian's python3-passlib).

* Users (res_users.password, odoo/addons/base/models/res_users.py): CryptContext of pbkdf2_sha512
  (600,000 rounds at least, more when ir_config_parameter password.hashing.rounds says so) and
  plaintext (deprecated: still verified). A login refuses an empty password before anything else
  and an archived (inactive) user is never found (_login, _check_credentials).
* The master password (admin_passwd, odoo/tools/config.py): pbkdf2_sha512, 600,000 rounds;
  Odoo accepts the hash in the config file in place of the clear password.
"""
MIN_ROUNDS = 600_000
# A hash from the database is untrusted: one claiming absurd rounds would hang a check for hours.
MAX_ROUNDS = 10_000_000
MASTER_PREFIX = "$pbkdf2-sha512$"


def user_context(rounds=0):
    from passlib.context import CryptContext
    return CryptContext(["pbkdf2_sha512", "plaintext"], deprecated=["auto"],
                        pbkdf2_sha512__rounds=max(MIN_ROUNDS, min(rounds, MAX_ROUNDS)))


def hash_user_password(password, rounds=0):
    """What `env.ref('base.user_admin').password = password` stores (_set_encrypted_password)."""
    return user_context(rounds).hash(password)


def hash_rounds(hashed):
    """The rounds a pbkdf2 hash claims, 0 for other formats."""
    parts = (hashed or "").split("$")
    if len(parts) > 2 and parts[1].startswith("pbkdf2") and parts[2].isdigit():
        return int(parts[2])
    return 0


def user_logs_in(password, hashed, active=True):
    """True when Odoo's _check_credentials would accept `password` against the stored `hashed`."""
    if not active or not password:
        return False
    try:
        return user_context().verify(password, hashed or "")
    except ValueError:  # a malformed hash refuses every password, as it does in Odoo
        return False


def hash_master_password(password):
    """admin_passwd for odoo.conf: the given hash as is, else its pbkdf2-sha512 hash."""
    if password.startswith(MASTER_PREFIX):
        return password
    from passlib.context import CryptContext
    context = CryptContext(["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"],
                           pbkdf2_sha512__rounds=MIN_ROUNDS)
    return context.hash(password)
