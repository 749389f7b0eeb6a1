"""The production guard of every operation that replaces the live registry (restores, point-in-time
recoveries): --force, then the database name typed at the prompt (or --confirm in scripts)."""
import sys

from ..errors import DfrError


def production(env, db, force, confirm):
    """Nothing happens to production's data without both. Other environments pass."""
    if env.name != "prod":
        return
    if not force:
        raise DfrError("restoring into production replaces the live registry: add --force (you will be asked "
                       "to type the database name)")
    if confirm is None:
        if not sys.stdin.isatty():
            raise DfrError("restoring into production needs the database name typed at the prompt "
                           f"(or --confirm={db} in scripts)")
        confirm = input(f"This replaces the PRODUCTION database '{db}' of {env.project_name}. "
                        "Type the database name to go on: ").strip()
    if confirm != db:
        raise DfrError(f"confirmation {confirm!r} is not the database name {db!r}: nothing was changed")
