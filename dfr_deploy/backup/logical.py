"""`invoke backup`: a logical backup set of one environment.

Order matters: the database is dumped first, the filestore archived after, because Odoo's
filestore is content-addressed and only garbage-collected for files no row references, so a
filestore copied after the dump is a superset of what the dump references. Every file is
SHA-1'd on its way into the archive and every attachment the dump references must be among
them with its checksum (present, same SHA-1); the manifest gets a SHA-256 per file, and only
then is the set published by one rename.
"""
import json
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import DfrError
from ..progress import elapsed, say, step
from . import manifest, publish, set_steps, settings
from .tools import BACKUPS, ODOO_DATA, human

METHOD = "logical"


def stack_facts(tools, db):
    """The database runs and answers (else a DfrError saying how to start it); its server
    version, size and collation, installed modules (None if not Odoo), and Odoo's release from
    the Odoo image (a container start, overlapped with the check and the queries)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        release = pool.submit(tools.odoo_release)
        tools.db_container()
        row = json.loads(tools.psql(
            "SELECT json_build_object('server_version', current_setting('server_version'),"
            " 'server_version_num', current_setting('server_version_num')::int,"
            " 'db_size', pg_database_size(current_database()),"
            " 'collate', datcollate, 'ctype', datctype,"
            " 'odoo', to_regclass('public.ir_module_module') IS NOT NULL)"
            " FROM pg_database WHERE datname = current_database()", db=db,
            what=f"reading database {db}"))
        modules = None
        if row["odoo"]:
            modules = json.loads(tools.psql(
                "SELECT coalesce(json_object_agg(name, latest_version ORDER BY name), '{}')"
                " FROM ir_module_module WHERE state = 'installed'", db=db, what="reading installed modules"))
        row["modules"] = modules
        row["release"] = release.result()
    return row


def backup(env, jobs=None, encrypt=True, copy_offsite=True, prune=False, allow_missing=False):
    """Make, verify and publish one set; returns its folder."""
    run = set_steps.plan(env, jobs, encrypt, copy_offsite, prune, zstd_level=1)
    tools, folder, jobs, level, total = run.tools, run.tools.backup_dir, run.jobs, run.level, run.total
    db = settings.db_name(env)
    started_clock = time.monotonic()
    with set_steps.locked_start(env, run, "backup"):
        started = manifest.now()
        name = f"{env.project_name}-{started:%Y%m%dT%H%M%SZ}"
        final = folder / name
        tmp = publish.temp_dir(folder, name)
        with set_steps.building(tools, tmp):
            with step(1, total, f"checking {env.project_name}"):
                facts = stack_facts(tools, db)
                release = facts["release"]
                say(f"      database {db}: {human(facts['db_size'])}, PostgreSQL {facts['server_version'].split()[0]}, "
                    f"Odoo {release['version']}")
            with step(2, total, f"dumping database {db} (pg_dump -Fd -j{jobs}, zstd -{level})"):
                dumped = tools.helper("pg_dump", "dump", "--out", f"{BACKUPS}/{tmp.name}/db", "--jobs", str(jobs),
                                      "--level", str(level), "--owner", tools.owner, db,
                                      what="pg_dump", watch=tmp, db="superuser")
                say(f"      {dumped['tables']} tables, {human(dumped['raw_bytes'])} before compression")
            with step(3, total, "archiving the filestore (after the dump), each file SHA-1'd on its way in"):
                archived = tools.helper("filestore", "filestore", "--src", f"{ODOO_DATA}/filestore/{db}",
                                        "--out", f"{BACKUPS}/{tmp.name}/filestore.tar.zst",
                                        "--level", str(level), "--threads", str(jobs), "--owner", tools.owner,
                                        "--check-dump", f"{BACKUPS}/{tmp.name}/db", "--scratch", "/tmp",
                                        what="archiving the filestore", watch=tmp, odoo_data="ro")
                say(f"      {archived['files']} files, {human(archived['bytes'])}")
            with step(4, total, "checking every attachment of the dump against the filestore archive"):
                bad = archived["missing"] + archived["mismatched"]
                if bad and not allow_missing:
                    raise DfrError(
                        f"{len(archived['missing'])} attachment(s) missing and {len(archived['mismatched'])} with a "
                        f"wrong SHA-1 in the filestore (first: {bad[0]}); nothing was published - check "
                        f"{ODOO_DATA}/filestore/{db} in the odoo container, or rerun with --allow-missing to "
                        "publish a set that records them")
                say(f"      {archived['checked']} attachments referenced, all present with their SHA-1"
                    if not bad else f"      WARNING: {len(bad)} attachments missing or wrong (recorded)")
            with step(5, total, "writing the manifest, fsync, verify, publish"):
                finished = manifest.now()
                data = manifest.new(METHOD, env, started)
                data.update({
                    "odoo_dump": "1", "db_name": db, "version": release["version"],
                    "version_info": release["version_info"], "major_version": release["major_version"],
                    "pg_version": facts["server_version"].split()[0], "modules": facts["modules"] or {},
                    "finished_at": manifest.iso(finished),
                    "duration_seconds": round(time.monotonic() - started_clock, 1),
                    "database": {"name": db, "size_bytes": facts["db_size"], "dump_bytes": dumped["raw_bytes"],
                                 "format": "pg_dump directory, data files zstd", "jobs": jobs,
                                 "zstd_level": level, "collate": facts["collate"], "ctype": facts["ctype"],
                                 "pg_dump_seconds": dumped.get("pg_dump_seconds"),
                                 "zstd_after_dump_seconds": dumped.get("zstd_after_seconds"),
                                 "data_files": dumped["tables"],
                                 "files_compressed_during_dump": dumped.get("compressed_during_dump")},
                    "filestore": {"files": archived["files"], "raw_bytes": archived["bytes"],
                                  "attachments_checked": archived["checked"],
                                  "missing": archived["missing"], "mismatched": archived["mismatched"]},
                    "encrypted": None, "verified": True,
                })
                data["filestore"]["bytes"] = (tmp / "filestore.tar.zst").stat().st_size
                set_steps.write_manifest(run, tmp, data)
            data = set_steps.publish_set(run, tmp, final, data, name)
        say(f"published {final} ({human(data['size_bytes'])}, {elapsed(started_clock)})")
        set_steps.after_publish(env, run, final)
    return final
