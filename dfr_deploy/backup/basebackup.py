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

from ..docker import docker
from ..errors import DfrError
from ..progress import elapsed, say, step
from . import logical, manifest, publish, set_steps, settings, wal
from .tools import BACKUPS, ODOO_DATA, human

METHOD = "basebackup"
FOLDER = "basebackup"
VERIFY_MOUNT = "/verify"

# Unpacks a set's base backup (tools image: zstd + tar) into $2; argv only, no interpolation.
UNPACK = ("set -euo pipefail; src=$1; dst=$2; mkdir -p \"$dst/pg_wal\"; "
          "zstd -dcq \"$src/base.tar.zst\" | tar -x --numeric-owner -C \"$dst\" -f -; "
          "if [ -e \"$src/pg_wal.tar.zst\" ]; then zstd -dcq \"$src/pg_wal.tar.zst\" | "
          "tar -x --numeric-owner -C \"$dst/pg_wal\" -f -; "
          "elif [ -e \"$src/pg_wal.tar\" ]; then tar -x --numeric-owner -C \"$dst/pg_wal\" -f \"$src/pg_wal.tar\"; fi; "
          "cp \"$src/backup_manifest\" \"$dst/backup_manifest\"; "
          "chown -R 999:999 \"$dst\"; chmod 700 \"$dst\"")


def wal_range(backup_manifest):
    """(timeline, start LSN, end LSN) from pg_basebackup's backup_manifest."""
    ranges = json.loads(backup_manifest.read_text()).get("WAL-Ranges") or []
    if not ranges:
        raise DfrError("pg_basebackup wrote a backup_manifest without a WAL range: nothing was published")
    return int(ranges[-1]["Timeline"]), ranges[0]["Start-LSN"], ranges[-1]["End-LSN"]


def unpack(env, tools, set_path, volume, step_name="unpack"):
    """Unpack the base backup of a set (folder under BACKUP_DIR, or an absolute path) into a
    docker volume, owned by the server's uid 999, mode 0700."""
    inside = f"{BACKUPS}/{set_path.relative_to(tools.backup_dir)}/{FOLDER}"
    tools.run(step_name, ["bash", "-c", UNPACK, "unpack", inside, VERIFY_MOUNT],
              what="unpacking the base backup", extra_mounts=[f"{volume}:{VERIFY_MOUNT}"])


def verify(env, tools, tmp, stamp):
    """pg_verifybackup (with WAL parsing) on an unpacked copy in a throwaway volume."""
    volume = f"{env.project_name}_basebackup_verify_{stamp}"
    docker()["volume", "create", "--label", f"dfr.backup.project={env.project_name}", volume].run(timeout=60)
    try:
        unpack(env, tools, tmp, volume, "verify-unpack")
        code, out, err = docker()["run", "--rm", "--network", "none", "--user", "999:999",
                                  "--label", f"dfr.backup.project={env.project_name}",
                                  "-v", f"{volume}:{VERIFY_MOUNT}:ro", env.image("postgres"),
                                  "pg_verifybackup", VERIFY_MOUNT].run(retcode=None, timeout=3600)
        if code != 0:
            lines = [l for l in (err or out).splitlines() if l.strip()]
            raise DfrError(f"pg_verifybackup rejected the base backup: {'; '.join(lines[-3:])}; nothing was published")
        return out.strip()
    finally:
        docker()["volume", "rm", "-f", volume].run(retcode=None, timeout=120)


def run(env, jobs=None, encrypt=True, copy_offsite=True, prune=False):
    """Make, verify and publish one base backup set; returns its folder."""
    run_plan = set_steps.plan(env, jobs, encrypt, copy_offsite, prune)
    tools, folder, jobs, level, total = (run_plan.tools, run_plan.tools.backup_dir, run_plan.jobs,
                                         run_plan.level, run_plan.total)
    db = settings.db_name(env)
    began = time.monotonic()
    with set_steps.locked_start(env, run_plan, "backup (basebackup)"):
        started = manifest.now()
        stamp = f"{started:%Y%m%dT%H%M%SZ}"
        name = f"{env.project_name}-{stamp}-base"
        final = folder / name
        tmp = publish.temp_dir(folder, name)
        with set_steps.building(tools, tmp):
            with step(1, total, f"checking {env.project_name}"):
                facts = logical.stack_facts(tools, db)
                release = facts["release"]
                cluster = json.loads(tools.psql(
                    "SELECT json_build_object('bytes', sum(pg_database_size(datname)),"
                    " 'archive_mode', current_setting('archive_mode'))::text FROM pg_database",
                    what="reading the cluster size"))
                if cluster["archive_mode"] == "off":
                    raise DfrError("archive_mode is off on the server: a base backup without the WAL archive "
                                   "cannot recover to a point in time; use the postgres image of this project")
                say(f"      cluster {human(cluster['bytes'])}, PostgreSQL {facts['server_version'].split()[0]}, "
                    f"Odoo {release['version']}")
            timings = {}
            with step(2, total, f"pg_basebackup (tar, WAL streamed, zstd -{level} x{jobs} workers)") as since:
                compress = f"client-zstd:level={level}" + (f",workers={jobs}" if jobs > 1 else "")
                tools.run("pg_basebackup", [
                    "pg_basebackup", "--pgdata", f"{BACKUPS}/{tmp.name}/{FOLDER}", "--format=tar",
                    "--wal-method=stream", f"--compress={compress}", "--checkpoint=fast",
                    f"--label=dfr {name}", "--no-password", "--manifest-checksums=CRC32C"],
                    what="pg_basebackup", watch=tmp, db="superuser", pg_options=["--user", tools.owner])
                consistent = manifest.now()  # the backup's end record is written before pg_basebackup returns
                # PostgreSQL 15 compresses only base.tar on the client (the streamed WAL stays plain).
                tools.run("zstd-wal", ["zstd", "-q", "--rm", f"-{level}", f"-T{jobs}",
                                       f"{BACKUPS}/{tmp.name}/{FOLDER}/pg_wal.tar", "-o",
                                       f"{BACKUPS}/{tmp.name}/{FOLDER}/pg_wal.tar.zst"],
                          what="compressing the streamed WAL", pg_options=["--user", tools.owner])
                timeline, start_lsn, end_lsn = wal_range(tmp / FOLDER / "backup_manifest")
                horizon = tools.psql("SELECT txid_snapshot_xmax(txid_current_snapshot())",
                                     what="reading the transaction horizon")
                say(f"      timeline {timeline}, WAL {start_lsn} .. {end_lsn}, "
                    f"{human(publish_size(tmp / FOLDER))} compressed")
                timings["pg_basebackup"] = round(time.monotonic() - since, 1)
            with step(3, total, "pg_verifybackup (unpacked in a throwaway volume, WAL parsed)") as since:
                say("      " + verify(env, tools, tmp, stamp.lower()).splitlines()[-1])
                timings["verify"] = round(time.monotonic() - since, 1)
            with step(4, total, "archiving the filestore (after the database)") as since:
                archived = tools.helper("filestore", "filestore", "--src", f"{ODOO_DATA}/filestore/{db}",
                                        "--out", f"{BACKUPS}/{tmp.name}/filestore.tar.zst",
                                        "--level", str(level), "--threads", str(jobs), "--owner", tools.owner,
                                        what="archiving the filestore", watch=tmp, odoo_data="ro")
                say(f"      {archived['files']} files")
                timings["filestore"] = round(time.monotonic() - since, 1)
            with step(5, total, "writing the manifest, fsync, verify, publish"):
                data = manifest.new(METHOD, env, started)
                data.update({
                    "db_name": db, "version": release["version"], "version_info": release["version_info"],
                    "major_version": release["major_version"], "pg_version": facts["server_version"].split()[0],
                    "modules": facts["modules"] or {},
                    "finished_at": manifest.iso(manifest.now()),
                    "duration_seconds": round(time.monotonic() - began, 1), "timings": timings,
                    "database": {"name": db, "size_bytes": facts["db_size"], "cluster_bytes": int(cluster["bytes"]),
                                 "format": "pg_basebackup tar, zstd", "zstd_level": level, "jobs": jobs,
                                 "collate": facts["collate"], "ctype": facts["ctype"]},
                    "wal": {"timeline": timeline, "start_lsn": start_lsn, "end_lsn": end_lsn,
                            "start_segment": wal.segment_name(timeline, wal.segment_number(wal.parse_lsn(start_lsn))),
                            "consistent_at": manifest.iso(consistent), "xid_horizon": int(horizon),
                            "verified_with": "pg_verifybackup"},
                    "filestore": {"files": archived["files"], "raw_bytes": archived.get("bytes", 0)},
                    "encrypted": None, "verified": True,
                })
                set_steps.write_manifest(run_plan, tmp, data)
            data = set_steps.publish_set(run_plan, tmp, final, data, name)
        say(f"published {final} ({human(data['size_bytes'])}, {elapsed(began)})")
        set_steps.after_publish(env, run_plan, final,
                                prune_title="retention (sets, then WAL older than the oldest kept base backup)")
    return final


def publish_size(path):
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def consistent_time(entry):
    """When a set's base backup became consistent (the earliest moment it can recover to)."""
    return manifest.parse_time(entry.data["wal"]["consistent_at"])


def utc(moment):
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

