"""The side database and filestore: the backup loaded beside the live ones (nothing live is
touched), then checked, as the sandbox role (the restored data is not trusted)."""
import os
from concurrent.futures import ThreadPoolExecutor

from ...errors import DfrError
from ...progress import say
from .. import helper_cli, mounts, publish, settings
from ..runner import new_folder

WITH_FILESTORE = ("set", "odoo-zip")   # the kinds of backup that carry one (pg_dump files do not)


def session_options(env, jobs):
    """Bulk-load session settings: index builds sort in memory, foreign keys are checked with
    in-memory hash joins, and commits do not wait for the disk (the swap only happens after the
    load has finished and the server has the data; a crash before simply drops the copy). With
    several jobs, each index is built by one process: the jobs already keep the cores busy, and
    parallel workers would only add their merge (measured: 4.6 s instead of 5.0 s of index
    builds for 1.25 GB on 2 jobs, 2 cores)."""
    memory = settings.restore_memory_mb(env, jobs)
    options = f"-c maintenance_work_mem={memory}MB -c work_mem={max(4, memory // 4)}MB -c synchronous_commit=off"
    return options + (" -c max_parallel_maintenance_workers=0" if jobs > 1 else "")


def load(env, runner, source, mount, inside, side, role, jobs):
    """The backup into the side database (as the sandbox role) and, when it carries one, its
    filestore into filestore/<side> (side by side: the database load is bound by index builds,
    the filestore by disk writes). Both are always waited for, so a failure of one never leaves
    the other running behind the caller's clean-up."""
    db = settings.db_name(env)
    options = session_options(env, jobs)
    odoo_data = mounts.volume(runner.odoo_volume, mounts.ODOO_DATA, read_only=False)

    def load_database():
        if source.kind == "set":
            scratch = new_folder(settings.backup_dir(env) / f"{publish.TEMP_PREFIX}restore-scratch-{os.getpid()}")
            try:
                loaded = runner.run("pg_restore", helper_cli.restore_db(f"{inside}/db", f"{mounts.SCRATCH}/work",
                                                                        jobs, side),
                                    "loading the side database", role=role, pg_options=options,
                                    volumes=[mount, mounts.bind(scratch, mounts.SCRATCH, read_only=False)])
            finally:
                publish.discard(scratch)
            say(f"      database: schema {loaded['schema_seconds']} s, {loaded['tables']} tables' data "
                f"{loaded['data_seconds']} s, indexes and constraints {loaded['index_seconds']} s, "
                f"{loaded['foreign_keys']} foreign keys checked {loaded['foreign_key_seconds']} s")
        elif source.kind in ("pg-custom", "pg-directory"):
            runner.run("pg_restore", helper_cli.restore_custom(inside, jobs, side), "pg_restore into the side database",
                       role=role, pg_options=options, volumes=[mount])
        elif source.kind == "pg-sql":
            runner.run("psql", helper_cli.restore_sql(inside, side), "psql (stop on error) into the side database",
                       role=role, pg_options=options, volumes=[mount])
        elif source.kind == "odoo-zip":
            runner.run("psql", helper_cli.restore_sql(inside, side, zip_member="dump.sql"),
                       "loading dump.sql (stop on error) into the side database", role=role, pg_options=options,
                       volumes=[mount])

    def load_filestore():
        # Files the live filestore already holds with the same bytes are hard-linked, not written.
        if source.kind in WITH_FILESTORE:
            archive = f"{inside}/filestore.tar.zst" if source.kind == "set" else inside
            unpacked = runner.run("fs-restore", helper_cli.restore_filestore(
                archive, f"{mounts.FILESTORE}/{side}", f"{mounts.FILESTORE}/{db}", settings.reserve_bytes(env)),
                "unpacking the filestore", volumes=[mount, odoo_data])
            say(f"      filestore: {unpacked['files']} files, {unpacked['linked']} of them already in place "
                "(hard-linked, not copied)")

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="restore") as pool:
        futures = [pool.submit(load_database), pool.submit(load_filestore)]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def link_live_filestore(env, runner, role, side, allow_missing):
    """A pg_dump file holds no filestore: the restored copy's attachment files are taken from
    the live filestore (hard links, each file's SHA-1 checked against its row; the rows read as
    the sandbox role by the container that links). Any not there stops the restore, unless
    --allow-missing."""
    db = settings.db_name(env)
    result = runner.run("fs-link", helper_cli.link_files(f"{mounts.FILESTORE}/{db}", f"{mounts.FILESTORE}/{side}",
                                                         db=side),
                        "taking files from the live filestore", role=role,
                        volumes=[mounts.volume(runner.odoo_volume, mounts.ODOO_DATA, read_only=False)])
    if not result.get("relation", True):
        return     # not an Odoo database: no attachments
    say(f"      filestore: none in a pg_dump file; {result['linked']} attachment file(s) taken from the live "
        "filestore (hard-linked, SHA-1 checked)")
    missing, mismatched = result["missing"], result["mismatched"]
    if (missing or mismatched) and not allow_missing:
        raise DfrError(f"{len(missing)} attachment file(s) of the dump are not in the live filestore and "
                       f"{len(mismatched)} there have another SHA-1 (first: {(missing + mismatched)[0]}): a pg_dump "
                       "file holds no filestore - restore a set or an Odoo zip that has them, or add "
                       "--allow-missing to restore without them; nothing was changed")


def check_filestore(runner, role, side, allow_missing=False):
    """Every attachment row of the restored copy has its file in the side filestore (the rows
    are read as the sandbox role by the container that looks at the files)."""
    result = runner.run("fs-check", helper_cli.check_files(f"{mounts.FILESTORE}/{side}", db=side),
                        "checking the restored filestore", role=role,
                        volumes=[mounts.volume(runner.odoo_volume, mounts.ODOO_DATA)])
    if result["missing"] and allow_missing:
        say(f"      {len(result['missing'])} attachment file(s) missing, restored without them (--allow-missing)")
    elif result["missing"]:
        raise DfrError(f"{len(result['missing'])} attachment file(s) of the backup are missing from its filestore "
                       f"(first: {result['missing'][0]}); nothing was changed - use another backup")
    return result["checked"]


def new_identity(runner, role, db):
    """A copy gets a new database.uuid and database.secret (as Odoo does for duplicates)."""
    runner.query("DO $$ BEGIN IF to_regclass('public.ir_config_parameter') IS NOT NULL THEN"
                 " UPDATE ir_config_parameter SET value = gen_random_uuid()::text"
                 " WHERE key IN ('database.uuid', 'database.secret');"
                 " UPDATE ir_config_parameter SET value = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
                 " WHERE key = 'database.create_date'; END IF; END $$", role, db,
                 what="giving the copy a new uuid and secret")
