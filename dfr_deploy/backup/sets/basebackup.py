"""`invoke backup --method=basebackup`: a physical base backup set, the start of point-in-time recovery.

A set holds `basebackup/` (pg_basebackup's tar format, zstd-compressed on the client with
parallel workers, the WAL streamed alongside so the set is consistent on its own, and the
server's backup_manifest), `filestore.tar.zst` (archived after the database, as for logical
sets: the filestore is content-addressed, so a later copy is a superset), and manifest.json.

PostgreSQL 15's pg_verifybackup only reads plain-format backups, so the set is unpacked into a
throwaway docker volume and checked there by pg_verifybackup of the server image (which ships
pg_waldump, so the WAL is parsed too, not only checksummed) before anything is published.
Then the same temp-name + fsync + SHA-256 + atomic-rename publishing as logical sets.
"""
import json
import time
from datetime import timezone

from ... import docker as d
from ... import labels
from ...errors import DfrError
from ...progress import elapsed, human, say, step
from .. import helper_cli, manifest, mounts, publish, roles, settings
from ..runner import give_to_tools
from ..wal import names as wal_names
from . import facts, steps

METHOD = "basebackup"
FOLDER = "basebackup"
CLUSTER_SQL = ("SELECT json_build_object('bytes', sum(pg_database_size(datname)),"
               " 'archive_mode', current_setting('archive_mode'))::text FROM pg_database")


def wal_range(backup_manifest):
    """(timeline, start LSN, end LSN) from pg_basebackup's backup_manifest."""
    ranges = json.loads(backup_manifest.read_text()).get("WAL-Ranges") or []
    if not ranges:
        raise DfrError("pg_basebackup wrote a backup_manifest without a WAL range: nothing was published")
    return int(ranges[-1]["Timeline"]), ranges[0]["Start-LSN"], ranges[-1]["End-LSN"]


def unpack(env, runner, set_path, volume, step_name="unpack", recovery_signal=False):
    """Unpack the base backup of a set into a docker volume (the safe unpacker: regular files
    and folders only, modes 0600/0700; the server's entrypoint gives them to postgres)."""
    give_to_tools(set_path)
    runner.run(step_name, helper_cli.unpack_basebackup(f"{mounts.SET}/{FOLDER}", mounts.NEWVOLUME,
                                                      recovery_signal, settings.reserve_bytes(env)),
               "unpacking the base backup",
               volumes=[mounts.bind(set_path, mounts.SET), mounts.volume(volume, mounts.NEWVOLUME, read_only=False)])


def verify(env, runner, tmp, stamp):
    """pg_verifybackup (with WAL parsing) on an unpacked copy in a throwaway volume."""
    volume = f"{env.project_name}_basebackup_verify_{stamp}"
    d.docker()["volume", "create", "--label", f"{labels.TOOLS}={env.project_name}", volume].run(timeout=60)
    try:
        unpack(env, runner, tmp, volume, "verify-unpack")
        cmd = runner.command("verify", ["pg_verifybackup", mounts.NEWVOLUME], image=env.image("postgres"),
                             volumes=[mounts.volume(volume, mounts.NEWVOLUME)])
        code, out, err = cmd.run(retcode=None, timeout=3600)
        if code != 0:
            lines = [line for line in (err or out).splitlines() if line.strip()]
            raise DfrError(f"pg_verifybackup rejected the base backup: {'; '.join(lines[-3:])}; nothing was published")
        return out.strip()
    finally:
        d.remove_volume(volume)


def run(env, jobs=None, encrypt=True, copy_offsite=True, prune=False):
    """Make, verify and publish one base backup set; returns its folder."""
    plan = steps.plan(env, jobs, encrypt, copy_offsite, prune)
    try:
        return make(env, plan)
    finally:
        plan.runner.close()


def make(env, plan):
    runner, folder, jobs, level, total = plan.runner, plan.folder, plan.jobs, plan.level, plan.total
    db = settings.db_name(env)
    began = time.monotonic()
    started = manifest.now()
    stamp = f"{started:%Y%m%dT%H%M%SZ}"
    name = f"{env.project_name}-{stamp}-base"
    final = folder / name
    tmp = publish.temp_dir(folder, name)
    with steps.building(plan, tmp):
        with step(1, total, f"checking {env.project_name}"):
            found = facts.read(env, runner, plan.catalog, db)
            release = found["release"]
            cluster = json.loads(plan.catalog.sql(CLUSTER_SQL, what="reading the cluster size"))
            if cluster["archive_mode"] == "off":
                raise DfrError("archive_mode is off on the server: a base backup without the WAL archive "
                               "cannot recover to a point in time; use the postgres image of this project")
            say(f"      cluster {human(cluster['bytes'])}, PostgreSQL {found['server_version'].split()[0]}, "
                f"Odoo {release['version']}")
        timings = {}
        with step(2, total, f"pg_basebackup (tar, WAL streamed, zstd -{level} x{jobs} workers)") as since:
            runner.run("pg_basebackup", helper_cli.basebackup(f"{mounts.OUT}/{FOLDER}", level, jobs, f"dfr {name}"),
                       "pg_basebackup", watch=tmp, role=roles.superuser(env),
                       volumes=[mounts.bind(tmp, mounts.OUT, read_only=False)])
            consistent = manifest.now()  # the backup's end record is written before pg_basebackup returns
            timeline, start_lsn, end_lsn = wal_range(tmp / FOLDER / "backup_manifest")
            horizon = plan.catalog.sql("SELECT txid_snapshot_xmax(txid_current_snapshot())",
                                       what="reading the transaction horizon")
            say(f"      timeline {timeline}, WAL {start_lsn} .. {end_lsn}, "
                f"{human(sum(p.stat().st_size for p in (tmp / FOLDER).rglob('*') if p.is_file()))} compressed")
            timings["pg_basebackup"] = round(time.monotonic() - since, 1)
        with step(3, total, "pg_verifybackup (unpacked in a throwaway volume, WAL parsed)") as since:
            say("      " + verify(env, runner, tmp, stamp.lower()).splitlines()[-1])
            timings["verify"] = round(time.monotonic() - since, 1)
        with step(4, total, "archiving the filestore (after the database)") as since:
            archived = runner.run("filestore", helper_cli.filestore(f"{mounts.FILESTORE}/{db}",
                                                                    f"{mounts.OUT}/filestore.tar.zst", level, jobs),
                                  "archiving the filestore", watch=tmp,
                                  volumes=[mounts.bind(tmp, mounts.OUT, read_only=False),
                                           mounts.volume(runner.odoo_volume, mounts.ODOO_DATA)])
            say(f"      {archived['files']} files")
            timings["filestore"] = round(time.monotonic() - since, 1)
        with step(5, total, "writing the manifest, fsync, verify, publish"):
            data = manifest.new(METHOD, env, started)
            data.update({
                "db_name": db, "version": release["version"], "version_info": release["version_info"],
                "major_version": release["major_version"], "pg_version": found["server_version"].split()[0],
                "modules": found["modules"] or {},
                "finished_at": manifest.iso(manifest.now()),
                "duration_seconds": round(time.monotonic() - began, 1), "timings": timings,
                "database": {"name": db, "size_bytes": found["db_size"], "cluster_bytes": int(cluster["bytes"]),
                             "format": "pg_basebackup tar, zstd", "zstd_level": level, "jobs": jobs,
                             "collate": found["collate"], "ctype": found["ctype"]},
                "wal": {"timeline": timeline, "start_lsn": start_lsn, "end_lsn": end_lsn,
                        "start_segment": wal_names.segment_name(
                            timeline, wal_names.segment_number(wal_names.parse_lsn(start_lsn))),
                        "consistent_at": manifest.iso(consistent), "xid_horizon": int(horizon),
                        "verified_with": "pg_verifybackup"},
                "filestore": {"files": archived["files"], "raw_bytes": archived.get("bytes", 0)},
                "encrypted": None, "verified": True,
            })
            steps.write_manifest(plan, tmp, data)
        data = steps.publish_set(plan, tmp, final, data, name)
    say(f"published {final} ({human(data['size_bytes'])}, {elapsed(began)})")
    steps.after_publish(env, plan, final, prune_title="retention (sets, then WAL older than the oldest kept base backup)")
    return final


def consistent_time(entry):
    """When a set's base backup became consistent (the earliest moment it can recover to)."""
    return manifest.parse_time(entry.data["wal"]["consistent_at"])


def utc(moment):
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
