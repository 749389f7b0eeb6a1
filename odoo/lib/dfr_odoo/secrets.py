"""The container's secrets: read from files only (compose secrets, NAME_FILE=/run/secrets/...).

A secret in an environment variable is visible in `docker inspect` and in /proc/<pid>/environ of
every process started with it, so NAME itself is refused: only NAME_FILE is read, by the root
part of the entrypoint (the files are root-owned 0600 bind mounts), and the values go only into
the 0600 files it writes for uid 1000. They never enter an environment, a command line or a log.
"""

SECRETS = ("DB_PASSWORD", "ODOO_ADMIN_PASSWD", "SMTP_PASSWORD", "ADMIN_USER_PASSWORD")
WEAK = {"", "admin", "odoo", "postgres", "password", "changeme", "change-me", "change_me", "secret",
        "default", "dfr"}
MIN_LENGTH = 12
# (secret, environments that refuse to start without a strong one)
REQUIRED = {"DB_PASSWORD": ("prod",), "ODOO_ADMIN_PASSWD": ("prod",),
            "ADMIN_USER_PASSWORD": ("prod", "staging")}
EX_CONFIG = 78


class SecretError(Exception):
    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def environment_name(environ):
    name = (environ.get("DFR_ENV") or "devel").lower()
    return {"production": "prod", "stage": "staging"}.get(name, name)


def read_all(environ):
    """{name: value} of the secrets given as NAME_FILE; a NAME set in the environment is refused."""
    values = {}
    for name in SECRETS + ("PGPASSWORD",):
        if environ.get(name):
            raise SecretError(f"{name} is set in the container's environment, where `docker inspect` shows it; "
                              f"give it as a file instead: {name}_FILE=/run/secrets/... (compose secrets)",
                              EX_CONFIG)
    for name in SECRETS:
        path = environ.get(f"{name}_FILE")
        if not path:
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().rstrip("\r\n")
        except OSError as error:
            raise SecretError(f"{name}_FILE points to {path}, which cannot be read ({error.strerror}); "
                              "mount the secret file there, owned by root, mode 0600") from None
        except UnicodeDecodeError:
            raise SecretError(f"{name}_FILE ({path}) is not UTF-8 text") from None
        if "\n" in value or "\r" in value or "\0" in value:
            raise SecretError(f"{name}_FILE ({path}) must hold one line")
        values[name] = value
    return values


def guard(values, env_name):
    """Staging and production never start with a missing, well-known or short secret."""
    for name, environments in REQUIRED.items():
        if env_name not in environments:
            continue
        value = values.get(name, "")
        if name == "ODOO_ADMIN_PASSWD" and value.startswith("$pbkdf2-sha512$"):
            continue  # already hashed: Odoo accepts it, and its strength cannot be read back
        if value.lower() in WEAK:
            raise SecretError(f"{name} is missing or a default value; {env_name} needs a strong one in "
                              f"{name}_FILE (regenerate the environment's secrets and redeploy)", EX_CONFIG)
        if len(value) < MIN_LENGTH:
            raise SecretError(f"{name} is shorter than {MIN_LENGTH} characters; {env_name} needs a strong "
                              "password", EX_CONFIG)
