"""Secrets: one env file per consumer (db.env, odoo.env) in .docker/<env>/, mode 0600.

Development secrets are generated on first use; staging and production secrets must exist
(generate them once with `invoke secrets --env=...`) and may never be empty or well known.
"""
import os
import secrets as random_source
import sys
from pathlib import Path

from .errors import DfrError

WEAK = {"", "admin", "odoo", "postgres", "password", "changeme", "change-me", "change_me", "secret", "default", "dfr"}
MIN_LENGTH = 12
# consumer file -> variables it must define
REQUIRED = {
    "db.env": ("POSTGRES_PASSWORD", "DFR_DB_PASSWORD"),
    "odoo.env": ("DB_PASSWORD", "ODOO_ADMIN_PASSWD"),
}


def generate(env):
    """Write missing secret files with strong random values; never overwrite an existing file."""
    return generate_into(env.secrets_dir, env.name)


def generate_into(folder, env_name):
    """generate() for a folder. Standard library only: copier runs it right after a copy."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    db_password = random_source.token_urlsafe(32)
    contents = {
        "db.env": {"POSTGRES_PASSWORD": random_source.token_urlsafe(32), "DFR_DB_PASSWORD": db_password},
        "odoo.env": {"DB_PASSWORD": db_password, "ODOO_ADMIN_PASSWD": random_source.token_urlsafe(32)},
    }
    existing = [name for name in contents if (folder / name).exists()]
    if existing and len(existing) < len(contents):
        # Generating only one file would give db and odoo different database passwords.
        raise DfrError(f"{folder} has {', '.join(existing)} but not the others: restore the missing file "
                       "from your password store, or move the folder away to generate a new set")
    written = []
    for name, values in contents.items():
        path = folder / name
        if path.exists():
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"# Secrets for the {name[:-4]} container ({env_name}). Keep a copy in your password store.\n")
            handle.writelines(f"{key}={value}\n" for key, value in values.items())
        written.append(path)
    return written


def check(env):
    """Raise a DfrError naming the file and variable when a secret is missing or weak."""
    from dotenv import dotenv_values  # here, so generate_into() needs only the standard library

    folder = env.secrets_dir
    values = {}
    for name, keys in REQUIRED.items():
        path = folder / name
        if not path.exists():
            raise DfrError(f"missing secrets file {path}: run `invoke secrets --env={env.name}` to generate it")
        loaded = dotenv_values(path)
        for key in keys:
            value = loaded.get(key) or ""
            if env.name != "devel" and (value.lower() in WEAK or len(value) < MIN_LENGTH):
                raise DfrError(f"{key} in {path} is missing, a default or shorter than {MIN_LENGTH} characters: "
                               f"set a strong value (or delete the folder and run `invoke secrets --env={env.name}`)")
            if not value:
                raise DfrError(f"{key} in {path} is empty: set it, or delete the folder to regenerate")
            values[key] = value
    if values["DB_PASSWORD"] != values["DFR_DB_PASSWORD"]:
        raise DfrError(f"DB_PASSWORD in {folder}/odoo.env differs from DFR_DB_PASSWORD in {folder}/db.env: make them equal")


def ensure(env):
    """Secrets ready for a deploy: generated for devel, checked for every environment."""
    if env.name == "devel":
        for path in generate(env):
            print(f"generated development secrets in {path}")
    check(env)


if __name__ == "__main__":
    # `python -m dfr_deploy.secrets generate devel staging prod` (copier's post-copy task).
    if len(sys.argv) < 3 or sys.argv[1] != "generate":
        sys.exit("usage: python -m dfr_deploy.secrets generate ENV [ENV ...]")
    for name in sys.argv[2:]:
        try:
            for path in generate_into(Path(".docker") / name, name):
                print(f"generated {path} (mode 0600)")
        except DfrError as error:
            sys.exit(f"error: {error}")
