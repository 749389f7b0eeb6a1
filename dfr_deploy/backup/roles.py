"""The PostgreSQL roles backup steps log in as, with their passwords from the secrets."""
from .. import secrets
from . import settings
from .runner import Role


def application(env):
    """The application role: owns every Odoo database; dumps and reads them."""
    return Role(settings.db_user(env), secrets.read(env, "db_password"))


def superuser(env):
    """Only for pg_basebackup (replication needs it); it never reads an Odoo database's objects."""
    return Role(env.get("POSTGRES_USER", "postgres"), secrets.read(env, "postgres_password"))
