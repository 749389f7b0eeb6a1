"""What a set records about the stack it was made from, read while the set is being started."""
import json
from concurrent.futures import ThreadPoolExecutor

from ...errors import DfrError
from ...stack import odoo
from .. import roles

FACTS_SQL = ("SELECT json_build_object('server_version', current_setting('server_version'),"
             " 'server_version_num', current_setting('server_version_num')::int,"
             " 'db_size', pg_database_size(datname), 'collate', datcollate, 'ctype', datctype)"
             " FROM pg_database WHERE datname = :'db'")
# As the application role (what it can define, it may read): Odoo's installed modules, or
# nothing when the database is not Odoo's (no such table).
MODULES_TABLE = "public.ir_module_module"
MODULES_SQL = ("SELECT coalesce(json_object_agg(name, latest_version ORDER BY name), '{}')"
               " FROM ir_module_module WHERE state = 'installed'")


def read(env, runner, catalog, db):
    """The database runs and answers (else a DfrError saying how to start it); its server
    version, size and collation, the installed modules (None if not Odoo), and Odoo's release
    from the Odoo image (a container start, overlapped with the rest)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        release = pool.submit(odoo.release, env)
        catalog.require()
        out = catalog.sql(FACTS_SQL, {"db": db}, f"reading database {db}")
        if not out:
            raise DfrError(f"the database {db} does not exist in {env.name}: check DB_NAME in config/{env.name}.env")
        row = json.loads(out)
        app = roles.application(env)
        modules = runner.query(MODULES_SQL, app, db, what="reading installed modules", if_relation=MODULES_TABLE)
        row["modules"] = json.loads(modules[0]) if modules else None
        row["release"] = release.result()
    return row
