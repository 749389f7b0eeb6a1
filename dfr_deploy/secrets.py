"""Secrets: one file per secret in .docker/<env>/ (mode 0600, folder 0700, ignored by git), each
given only to the services that need it as a compose file-based secret (/run/secrets/<name>).

No password is ever in a container's environment (`docker inspect`, /proc/1/environ), a command
line, an image or a log line: entrypoints read /run/secrets/* (the `*_FILE` variables).
Development secrets are generated on first use; staging and production secrets must exist
(`invoke secrets --env=...`, once) and may never be empty or well known.
Standard library only above `check`: copier runs `generate_into` right after a copy.
"""
import os
import secrets as random_source
import sys
from pathlib import Path

from .errors import DfrError

WEAK = {"", "admin", "odoo", "postgres", "password", "changeme", "change-me", "change_me", "secret", "default", "dfr"}
MIN_LENGTH = 12
# secret file -> who uses it. A file holds the value only, as compose secrets and the
# entrypoints' *_FILE readers expect.
FILES = {
    "postgres_password": "db: the PostgreSQL superuser",
    "db_password": "db and odoo: the application role Odoo logs in as",
    "odoo_admin_passwd": "odoo: the master password of Odoo's database manager",
    "admin_user_password": "odoo: the login password of Odoo's `admin` user",
    "smtp_password": "odoo and alertmanager: the SMTP relay's password (empty when there is none)",
    "monitoring_db_password": "postgres-exporter: role dfr_monitor (pg_monitor only)",
    "monitoring_web_password": "you: user `dfr` of the monitoring pages (Prometheus, Alertmanager)",
    "monitoring_htpasswd": "nginx: the {SSHA} hash of monitoring_web_password",
    "alert_webhook_token": "alertmanager: bearer token for ALERT_WEBHOOK_URL (empty when there is none)",
    "acme_tsig_secret": "acme: the TSIG key's secret for RFC 2136 updates (empty unless ACME_CHALLENGE=dns-01)",
}
OPTIONAL = {"smtp_password", "alert_webhook_token", "acme_tsig_secret"}
# Read by services that do not run as root (monitoring uid 10190, nginx's workers): 0444 - the
# 0700 folder keeps every other host account out.
SHARED = {"monitoring_db_password", "monitoring_htpasswd", "alert_webhook_token", "smtp_password"}
DERIVED = {"monitoring_htpasswd"}
# The layout of dfr-deploy 0.1 and 0.2: one env file per consumer. Read once, then replaced.
LEGACY = {"db.env": {"POSTGRES_PASSWORD": "postgres_password", "DFR_DB_PASSWORD": "db_password"},
          "odoo.env": {"DB_PASSWORD": "db_password", "ODOO_ADMIN_PASSWD": "odoo_admin_passwd",
                       "SMTP_PASSWORD": "smtp_password"}}


def generate(env):
    """Write missing secret files with strong random values; never overwrite an existing one."""
    return generate_into(env.secrets_dir, env.name)


def _legacy_values(folder):
    """Values of the old env files (a minimal KEY=VALUE reader: the standard library only)."""
    values = {}
    for name, keys in LEGACY.items():
        path = folder / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in keys and not line.lstrip().startswith("#"):
                values[keys[key.strip()]] = value.strip().strip("'\"")
    return values


def _write(path, value):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)


def htpasswd_line(user, password):
    """nginx's auth_basic_user_file entry, {SSHA}: a salted SHA-1 of a random 43-character
    password (a brute force of it is hopeless; nginx supports nothing slower without modules)."""
    import base64
    import hashlib

    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n"


def generate_into(folder, env_name):
    """generate() for a folder. Carries the values of the old env files over, then removes them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    legacy = _legacy_values(folder)
    written = []
    for name in FILES:
        path = folder / name
        if path.exists():
            continue
        value = legacy.get(name)
        if name in DERIVED:
            value = htpasswd_line("dfr", (folder / "monitoring_web_password").read_text().strip())
        elif value is None:
            value = "" if name in OPTIONAL else random_source.token_urlsafe(32)
        _write(path, value)
        written.append(path)
    for name in SHARED:
        if (folder / name).exists():
            os.chmod(folder / name, 0o444)
    for name in LEGACY:
        # every value is in its own file now: the old copies go (they hold the same secrets)
        if (folder / name).exists():
            (folder / name).unlink()
    return written


def read(env, name):
    """One secret's value (a DfrError naming the file when it is missing or empty)."""
    path = env.secrets_dir / name
    value = path.read_text().strip() if path.exists() else ""
    if not value and name not in OPTIONAL:
        raise DfrError(f"the secret {path} is missing or empty: run `invoke secrets --env={env.name}` "
                       "or restore it from your password store")
    return value


def check(env):
    """Raise a DfrError naming the file when a secret is missing or weak."""
    folder = env.secrets_dir
    legacy = [name for name in LEGACY if (folder / name).exists()]
    if legacy:
        raise DfrError(f"{folder} still has {', '.join(legacy)} (the layout of dfr-deploy 0.2 and older): run "
                       f"`invoke secrets --env={env.name}` to move them into one file per secret")
    for name in FILES:
        path = folder / name
        if not path.exists():
            raise DfrError(f"missing secret file {path}: run `invoke secrets --env={env.name}` to generate it")
        value = path.read_text().strip()
        if name in SHARED and not path.stat().st_mode & 0o004:
            raise DfrError(f"the secret {path} must be readable by the services that read it (0444 inside the "
                           f"0700 folder): run `invoke secrets --env={env.name}`")
        if name in OPTIONAL:
            continue
        if name in DERIVED:
            if not value.startswith("dfr:{SSHA}"):
                raise DfrError(f"{path} is not nginx's {{SSHA}} line of user dfr: delete it and run "
                               f"`invoke secrets --env={env.name}` to make it again from monitoring_web_password")
            continue
        if not value:
            raise DfrError(f"the secret {path} is empty: set it, or delete it to have it generated again")
        if env.name != "devel" and (value.lower() in WEAK or len(value) < MIN_LENGTH):
            raise DfrError(f"the secret {path} is a default or shorter than {MIN_LENGTH} characters: set a strong "
                           f"value (or delete it and run `invoke secrets --env={env.name}`)")
        if "\n" in value:
            raise DfrError(f"the secret {path} has more than one line: keep only the value")


def ensure(env):
    """Secrets ready for a deploy: generated for devel, checked for every environment."""
    if env.name == "devel":
        for path in generate(env):
            print(f"generated development secret {path}")
    check(env)


if __name__ == "__main__":
    # `python -m dfr_deploy.secrets generate devel staging prod` (copier's post-copy task).
    if len(sys.argv) < 3 or sys.argv[1] != "generate":
        sys.exit("usage: python -m dfr_deploy.secrets generate ENV [ENV ...]")
    for env_name in sys.argv[2:]:
        try:
            for path in generate_into(Path(".docker") / env_name, env_name):
                print(f"generated {path} (mode 0600)")
        except DfrError as error:
            sys.exit(f"error: {error}")
