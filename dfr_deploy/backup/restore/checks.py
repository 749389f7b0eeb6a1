"""What can be known before a restore changes anything: Odoo's major version against the
stack's, PostgreSQL's against the server's, the live database's collation, and free disk."""
import json
from concurrent.futures import ThreadPoolExecutor

from ...errors import DfrError
from ...progress import human
from ...stack import odoo
from .. import formats, helper_cli, mounts

SERVER_SQL = ("SELECT json_build_object('server', current_setting('server_version_num')::int / 10000,"
              " 'collate', coalesce((SELECT json_build_array(datcollate, datctype) FROM pg_database"
              " WHERE datname = :'db'), '[\"C.UTF-8\", \"C.UTF-8\"]'::json))")


def probe_stack(env, runner, catalog, db, backup_dir):
    """Odoo's version (from its image), the server's major, the live database's collation and the
    free disk of each volume. Read while the backup's checksums are verified (two container
    starts and a query, overlapped)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        # the two container runs need no database: started first
        release = pool.submit(odoo.release, env)
        free = pool.submit(runner.run, "df", helper_cli.df(["/pgdata", mounts.ODOO_DATA, "/backups"]),
                           "checking free disk space",
                           volumes=[mounts.volume(env.postgres_volume, "/pgdata"),
                                    mounts.volume(runner.odoo_volume, mounts.ODOO_DATA),
                                    mounts.bind(backup_dir, "/backups")])
        catalog.require()
        row = json.loads(catalog.sql(SERVER_SQL, {"db": db}, "reading the server version and the collation"))
        return {"release": release.result(), "server": row["server"], "collate": row["collate"],
                "free": free.result()}


def check_versions(env, source, stack):
    release, server = stack["release"], stack["server"]
    if source.major_version and str(source.major_version) != str(release["major_version"]):
        raise DfrError(f"the backup is from Odoo {source.major_version} but {env.name} runs Odoo "
                       f"{release['major_version']}: restore it into a stack of the same Odoo major version "
                       "(or migrate it first); nothing was changed")
    made = formats.pg_major(source.pg_version)
    if made and made > server:
        raise DfrError(f"the backup was made by PostgreSQL {made}, newer than {env.name}'s server ({server}): "
                       "restore it into a server of that major or newer; nothing was changed")


def check_disk(source, free):
    """Room for the restored copy next to the current one. The archive's own figures are only a
    first estimate: the unpacker counts the real bytes against the real free space as it goes."""
    data = source.manifest or {}
    db_bytes = (data.get("database") or {}).get("size_bytes")
    fs_bytes = (data.get("filestore") or {}).get("raw_bytes")
    if db_bytes is None or fs_bytes is None:
        size = source.path.stat().st_size if source.path.is_file() else sum(
            p.stat().st_size for p in source.path.rglob("*") if p.is_file())
        db_bytes = db_bytes or size * 3
        fs_bytes = fs_bytes or size
    needs = [("/pgdata", "the database volume", int(db_bytes * 1.2) + (64 << 20)),
             (mounts.ODOO_DATA, "the filestore volume", int(fs_bytes * 1.05) + (16 << 20))]
    for where, label, need in needs:
        if free[where]["free"] < need:
            raise DfrError(f"not enough free disk on {label}: {human(free[where]['free'])} free, about "
                           f"{human(need)} needed for the restored copy next to the current one; free some "
                           "space (e.g. `invoke restore ... --drop-previous` drops the previous copy); nothing was changed")
