"""`invoke backup`: a logical backup set of one environment.

Order matters: the database is dumped first, the filestore archived after, because Odoo's
filestore is content-addressed and only garbage-collected for files no row references, so a
filestore copied after the dump is a superset of what the dump references. Every file is
SHA-1'd on its way into the archive and every attachment the dump references must be among
them with its checksum (present, same SHA-1); the manifest gets a SHA-256 per file, and only
then is the set published by one rename.

The dump runs as the application role, not the superuser: the database holds objects that role
(or an addon's SQL injection) may define, and nothing it defines may run with more rights than
it has. It owns every object Odoo creates, so it can dump them all.
"""
import re
import time

from ...errors import DfrError
from ...progress import elapsed, human, say, step
from .. import helper_cli, manifest, mounts, publish, roles, settings
from ..runner import new_folder
from . import facts, steps

METHOD = "logical"


def backup(env, jobs=None, encrypt=True, copy_offsite=True, prune=False, allow_missing=False):
    """Make, verify and publish one set; returns its folder."""
    run = steps.plan(env, jobs, encrypt, copy_offsite, prune, zstd_level=1)
    try:
        return make(env, run, allow_missing)
    finally:
        run.runner.close()


def make(env, run, allow_missing):
    runner, folder, jobs, level, total = run.runner, run.folder, run.jobs, run.level, run.total
    db = settings.db_name(env)
    started_clock = time.monotonic()
    started = manifest.now()
    name = f"{env.project_name}-{started:%Y%m%dT%H%M%SZ}"
    final = folder / name
    tmp = publish.temp_dir(folder, name)
    scratch = None
    with steps.building(run, tmp):
        with step(1, total, f"checking {env.project_name}"):
            found = facts.read(env, runner, run.catalog, db)
            release = found["release"]
            say(f"      database {db}: {human(found['db_size'])}, PostgreSQL {found['server_version'].split()[0]}, "
                f"Odoo {release['version']}")
        with step(2, total, f"dumping database {db} (pg_dump -Fd -j{jobs}, zstd -{level})"):
            try:
                dumped = runner.run("pg_dump", helper_cli.dump(f"{mounts.OUT}/db", jobs, level, db), "pg_dump",
                                    watch=tmp, role=roles.application(env),
                                    volumes=[mounts.bind(tmp, mounts.OUT, read_only=False)])
            except DfrError as error:
                denied = re.search(r"permission denied for (?:table|sequence|schema|large object) (\S+)", str(error))
                if not denied:
                    raise
                raise DfrError(f"{denied.group(1)} in database {db} is not the application role's, so the backup "
                               f"(made as {settings.db_user(env)}, never as the superuser) cannot read it: give it to "
                               f"{settings.db_user(env)} (ALTER ... OWNER TO {settings.db_user(env)}) or drop it; "
                               "nothing was published") from None
            say(f"      {dumped['tables']} tables, {human(dumped['raw_bytes'])} before compression")
        with step(3, total, "archiving the filestore (after the dump), each file SHA-1'd on its way in"):
            scratch = new_folder(folder / f"{publish.TEMP_PREFIX}scratch-{name}")
            try:
                archived = runner.run(
                    "filestore", helper_cli.filestore(f"{mounts.FILESTORE}/{db}", f"{mounts.OUT}/filestore.tar.zst",
                                                      level, jobs, check_dump=f"{mounts.OUT}/db",
                                                      scratch=mounts.SCRATCH),
                    "archiving the filestore", watch=tmp,
                    volumes=[mounts.bind(tmp, mounts.OUT, read_only=False),
                             mounts.bind(scratch, mounts.SCRATCH, read_only=False),
                             mounts.volume(runner.odoo_volume, mounts.ODOO_DATA)])
            finally:
                publish.discard(scratch)
            say(f"      {archived['files']} files, {human(archived['bytes'])}")
        with step(4, total, "checking every attachment of the dump against the filestore archive"):
            bad = archived["missing"] + archived["mismatched"]
            if bad and not allow_missing:
                raise DfrError(
                    f"{len(archived['missing'])} attachment(s) missing and {len(archived['mismatched'])} with a "
                    f"wrong SHA-1 in the filestore (first: {bad[0]}); nothing was published - check "
                    f"{mounts.FILESTORE}/{db} in the odoo container, or rerun with --allow-missing to "
                    "publish a set that records them")
            say(f"      {archived['checked']} attachments referenced, all present with their SHA-1"
                if not bad else f"      WARNING: {len(bad)} attachments missing or wrong (recorded)")
        with step(5, total, "writing the manifest, fsync, verify, publish"):
            data = manifest.new(METHOD, env, started)
            data.update({
                "odoo_dump": "1", "db_name": db, "version": release["version"],
                "version_info": release["version_info"], "major_version": release["major_version"],
                "pg_version": found["server_version"].split()[0], "modules": found["modules"] or {},
                "finished_at": manifest.iso(manifest.now()),
                "duration_seconds": round(time.monotonic() - started_clock, 1),
                "database": {"name": db, "size_bytes": found["db_size"], "dump_bytes": dumped["raw_bytes"],
                             "format": "pg_dump directory, data files zstd", "jobs": jobs,
                             "zstd_level": level, "collate": found["collate"], "ctype": found["ctype"],
                             "pg_dump_seconds": dumped.get("pg_dump_seconds"),
                             "zstd_after_dump_seconds": dumped.get("zstd_after_seconds"),
                             "data_files": dumped["tables"],
                             "files_compressed_during_dump": dumped.get("compressed_during_dump"),
                             "rows": dumped.get("rows")},
                "filestore": {"files": archived["files"], "raw_bytes": archived["bytes"],
                              "attachments_checked": archived["checked"],
                              "missing": archived["missing"], "mismatched": archived["mismatched"]},
                "encrypted": None, "verified": True,
            })
            data["filestore"]["bytes"] = (tmp / "filestore.tar.zst").stat().st_size
            steps.write_manifest(run, tmp, data)
        data = steps.publish_set(run, tmp, final, data, name)
    say(f"published {final} ({human(data['size_bytes'])}, {elapsed(started_clock)})")
    steps.after_publish(env, run, final)
    return final
