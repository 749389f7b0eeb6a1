#!/usr/bin/env python3
"""Benchmark point-in-time recovery against pgBackRest (figures, not pass/fail).

On one throwaway prod-like stack (the Odoo stand-in; PostgreSQL is the project's image plus
Debian's pgBackRest, built from benchmarks/pgbackrest/Dockerfile), with generated data (about
1 GB by default, SQL generate_series):

  * full backup: `invoke backup --method=basebackup` (basebackup.run: pg_basebackup tar + zstd -3
    with 2 workers, pg_verifybackup, filestore, manifest, publish) against
    `pgbackrest backup --type=full` (zstd -3, process-max=2) of the same cluster;
  * point-in-time restore to a time after more writes: recovery into a new volume up to
    promotion (pitr.recovered: checksums, unpack, replay, checks) against `pgbackrest restore
    --type=time` into a new volume + starting PostgreSQL on it until it has promoted;

and prints times, sizes and the ratios (target: ours within 1.2x of pgBackRest), for several
rounds (default 3) with the median and the spread (min..max) of each, since one round on a
shared 2-core machine cannot tell noise from a difference. Both archive the same WAL during the
run (archive_command chains dfr-archive-wal and pgbackrest archive-push). Each measured step
starts from the same quiet state (settle: no autovacuum running, checkpoint, WAL archived, sync,
page cache dropped when the host allows it).

    .venv/bin/python benchmarks/pitr.py [--rows=8000000] [--rounds=3]
"""
import argparse
import json
import os
import statistics
import secrets as random_source
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dfr_deploy import environments, images, secrets  # noqa: E402
from dfr_deploy.backup import manifest  # noqa: E402
from dfr_deploy.backup.pitr import recovery, server as pitr_server  # noqa: E402
from dfr_deploy.backup.pitr.target import parse_target  # noqa: E402
from dfr_deploy.backup.runner import Runner  # noqa: E402
from dfr_deploy.backup.wal import archive as wal_archive  # noqa: E402
from dfr_deploy.commands import backup as backup_commands, stack  # noqa: E402
from dfr_deploy.docker import compose, docker, legacy_build_env  # noqa: E402
from dfr_deploy.progress import human  # noqa: E402
from bench_stack import free_port  # noqa: E402  (benchmarks/bench_stack.py)

REGISTRY, TAG = "dfr-pitrbench", "bench"
STANDIN = ROOT / "tests" / "fixtures" / "odoo-standin"


def drop_caches():
    """Cold cache for every measured step (needs root; silently skipped otherwise)."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
    except OSError:
        pass


def psql(env, sql, db="dfr"):
    return compose(env)["exec", "-T", "-u", "postgres", "db", "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
                        "-d", db, "-c", sql].run(timeout=3600)[1].strip()


def in_db(env, *args, timeout=3600):
    return compose(env)["exec", "-T", "-u", "postgres", "db", *args].run(timeout=timeout)[1]


def build(env):
    images.build(env)
    docker()["build", "--pull=false", "-t", env.image("postgres"), "--build-arg",
             f"PG_IMAGE={env.image('postgres')}", str(ROOT / "benchmarks" / "pgbackrest")].with_env(
        **legacy_build_env()).run(timeout=1800)


def generate(env, rows):
    """~120 bytes a row + a primary key: 8 M rows is about 1.2 GB on disk."""
    psql(env, "DROP TABLE IF EXISTS bench_farmer, bench_event")
    psql(env, f"CREATE TABLE bench_farmer AS SELECT g AS id, md5(g::text) AS national_id,"
              f" 'Farmer ' || g AS name, (random() * 1e6)::int AS plot_m2,"
              f" now() - (g || ' s')::interval AS registered, repeat(chr(65 + g % 26), 40) AS notes"
              f" FROM generate_series(1, {rows}) g")
    psql(env, "ALTER TABLE bench_farmer ADD PRIMARY KEY (id)")
    psql(env, "CREATE TABLE bench_event (id bigserial PRIMARY KEY, farmer int, at timestamptz DEFAULT clock_timestamp())")
    psql(env, "CHECKPOINT", db="postgres")
    return int(psql(env, "SELECT pg_database_size('dfr')"))


def wait_archived(env, timeout=600):
    segment = psql(env, "SELECT pg_walfile_name(pg_switch_wal())", db="postgres")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if psql(env, "SELECT last_archived_wal >= '%s' FROM pg_stat_archiver" % segment, db="postgres") == "t":
            return
        time.sleep(0.5)
    raise RuntimeError(f"{segment} not archived within {timeout} s")


def settle(env, limit=600):
    """Before each measured step, the same quiet start for both sides: no autovacuum worker
    running (the last round's UPDATE leaves a 1 GB table to vacuum, whose I/O and WAL would
    land in whichever backup runs first), a checkpoint, every WAL segment archived, dirty pages
    on disk, then a cold page cache."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and psql(
            env, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                 " AND datname IS NOT NULL", db="postgres") != "0":
        time.sleep(1)
    psql(env, "CHECKPOINT", db="postgres")
    wait_archived(env, timeout=max(60, deadline - time.monotonic()))
    os.sync()
    drop_caches()


def pgbackrest_restore(env, target, volume):
    """pgbackrest restore --type=time into `volume`, then PostgreSQL on it until promoted."""
    image = env.image("postgres")
    archive = wal_archive.volume(env)
    data = "/var/lib/postgresql/data"  # pgbackrest writes its pg1-path into restore_command
    docker()["run", "--rm", "--network", "none", "-v", f"{volume}:{data}", "--entrypoint", "chown", image,
             "999:999", data].run(timeout=60)
    settle(env)
    started = time.monotonic()
    docker()["run", "--rm", "--network", "none", "--user", "999:999", "-v", f"{volume}:{data}",
             "-v", f"{archive}:/wal_archive:ro", "--entrypoint", "pgbackrest", image, "--stanza=bench",
             "--type=time", f"--target={target}", "--target-action=promote", "restore"].run(timeout=3600)
    restored = time.monotonic() - started
    # started as our temporary server is: the image's entrypoint (as root, it drops to postgres)
    # (archiving is off: its archive folder is a throwaway one, the real archive stays read-only)
    run = docker()["run", "-d", "--network", "none", "--shm-size", "256m", "-e", "WAL_ARCHIVE_DIR=/tmp/no-archive",
                   "-v", f"{volume}:/var/lib/postgresql/data", "-v", f"{archive}:/wal_archive:ro"]
    for key, default in pitr_server.SHARED_SETTINGS.items():  # as our temporary server: hot standby needs them
        run = run["-e", f"{key}={env.get(key, default)}"]
    cid = run[image, "postgres", "-c", "archive_mode=off", "-c", "listen_addresses="].run(timeout=60)[1].strip()
    try:
        while True:
            code, out, _ = docker()["exec", "-u", "postgres", cid, "psql", "-XAtq", "-c",
                                    "SELECT pg_is_in_recovery()"].run(retcode=None, timeout=60)
            if code == 0 and out.strip() == "f":
                break
            if docker()["inspect", "-f", "{{.State.Running}}", cid].run(timeout=60)[1].strip() != "true":
                raise RuntimeError("PostgreSQL on pgBackRest's restore stopped: "
                                   + docker()["logs", "--tail", "5", cid].run(retcode=None, timeout=60)[2])
            if time.monotonic() - started > 3600:
                raise RuntimeError("pgBackRest's recovery did not finish within an hour")
            time.sleep(0.2)
        total = time.monotonic() - started
        events = docker()["exec", "-u", "postgres", cid, "psql", "-XAtq", "-d", "dfr", "-c",
                          "SELECT count(*) FROM bench_event"].run(timeout=60)[1].strip()
    finally:
        docker()["rm", "-f", cid].run(retcode=None, timeout=60)
    return restored, total, int(events)


def one_round(env, number, rounds):
    """Full backup (ours, then pgBackRest), more writes, then a point-in-time restore (ours, then
    pgBackRest's restore + PostgreSQL until promoted) to a moment in the middle of them."""
    print(f"\n---------------- round {number} of {rounds} ----------------", flush=True)
    figures = {}
    settle(env)
    started = time.monotonic()
    folder = backup_commands.backup(env, method="basebackup", encrypt=False, copy_offsite=False)
    figures["ours_backup"] = time.monotonic() - started
    data = manifest.load(folder)
    figures["ours_size"] = data["size_bytes"]
    figures["ours_timings"] = data.get("timings", {})

    settle(env)
    started = time.monotonic()
    in_db(env, "pgbackrest", "--stanza=bench", "--type=full", "backup")
    figures["pgbr_backup"] = time.monotonic() - started
    info = json.loads(in_db(env, "pgbackrest", "--stanza=bench", "--output=json", "info"))
    figures["pgbr_size"] = info[0]["backup"][-1]["info"]["repository"]["delta"]

    # WAL to replay: events for ~20 s, the target in the middle.
    psql(env, "INSERT INTO bench_event (farmer) SELECT g FROM generate_series(1, 200000) g")
    time.sleep(1.5)
    target = psql(env, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
    time.sleep(1.5)
    expected = int(psql(env, "SELECT count(*) FROM bench_event"))
    psql(env, "INSERT INTO bench_event (farmer) SELECT g FROM generate_series(1, 200000) g")
    psql(env, "UPDATE bench_farmer SET plot_m2 = plot_m2 + 1 WHERE id % 10 = 0")
    runner = Runner(env)
    settle(env)
    started = time.monotonic()
    with recovery.recovered(env, runner, parse_target(to_time=target)) as (server, _):
        figures["ours_restore"] = time.monotonic() - started
        got = int(server.psql("SELECT count(*) FROM public.bench_event", db="dfr")[0])
    runner.close()
    assert got == expected, f"ours recovered {got} events, expected {expected}"

    volume = f"{env.project_name}_pgbackrest_restore"
    docker()["volume", "create", volume].run(timeout=60)
    try:
        figures["pgbr_restore_files"], figures["pgbr_restore"], got = pgbackrest_restore(env, target, volume)
    finally:
        docker()["volume", "rm", "-f", volume].run(retcode=None, timeout=120)
    assert got == expected, f"pgBackRest recovered {got} events, expected {expected}"
    figures["target"], figures["events"] = target, expected
    return figures


def report(rounds, size, args):
    print("\n================ point-in-time recovery benchmark ================")
    print(f"data: {human(size)} database ({args.rows} rows + index), 2 cores, zstd -3, 2 jobs/processes; "
          f"{len(rounds)} round(s)")
    rows = (("full backup time (s)", "ours_backup", "pgbr_backup", 1), ("backup size (MB)", "ours_size", "pgbr_size", 1e6),
            ("point-in-time restore (s)", "ours_restore", "pgbr_restore", 1))
    print(f"\n{'':28}{'round':>6}{'dfr-deploy':>12}{'pgBackRest':>12}{'ratio':>8}")
    for label, ours, theirs, scale in rows:
        for number, r in enumerate(rounds, 1):
            print(f"{label:28}{number:6}{r[ours] / scale:12.1f}{r[theirs] / scale:12.1f}{r[ours] / r[theirs]:8.2f}")
    print(f"\n{'median (spread min..max)':28}{'dfr-deploy':>12}{'pgBackRest':>12}{'ratio':>8}  ratio spread  target")
    for label, ours, theirs, scale in rows:
        ratios = [r[ours] / r[theirs] for r in rounds]
        print(f"{label:28}{statistics.median(r[ours] for r in rounds) / scale:12.1f}"
              f"{statistics.median(r[theirs] for r in rounds) / scale:12.1f}{statistics.median(ratios):8.2f}"
              f"  {min(ratios):.2f}..{max(ratios):.2f}    {'<= 1.2' if 'restore' in label else ''}")
    last = rounds[-1]
    t = last["ours_timings"]
    print(f"\nlast round: pg_basebackup {t.get('pg_basebackup', 0):.1f} s, pg_verifybackup {t.get('verify', 0):.1f} s; "
          f"pgBackRest restore command {last['pgbr_restore_files']:.1f} s; "
          f"recovered to {last['target']}: {last['events']} events, exact on both sides")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=8_000_000, help="rows of generated data (default 8 M, ~1.2 GB)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (backup + restore each); medians are reported")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfr-pitr-bench-"))
    env = environments.resolve("prod", overrides={
        "PROJECT_NAME": f"dfrpb{random_source.token_hex(2)}", "IMAGE_REGISTRY": REGISTRY, "IMAGE_TAG": TAG,
        "ODOO_SOURCE": str(STANDIN), "DFR_SECRETS_DIR": str(work / "secrets"), "BACKUP_DIR": str(work / "backups"),
        "PUBLISH_ADDRESS": "127.0.0.1", "NGINX_HTTP_PORT": free_port(), "NGINX_HTTPS_PORT": free_port(),
        "DB_CPUS": "2", "DB_MEMORY": "2g", "ODOO_CPUS": "1", "ODOO_MEMORY": "1g", "NGINX_CPUS": "0.5",
        "WORKERS": "1", "POSTGRES_SHARED_BUFFERS": "256MB",
        "POSTGRES_EFFECTIVE_CACHE_SIZE": "1GB", "BACKUP_JOBS": "2", "BACKUP_ZSTD_LEVEL": "3",
        "POSTGRES_MAX_WAL_SIZE": "2GB"})
    try:
        print(f"building images {REGISTRY}/*:{TAG} (PostgreSQL + pgBackRest)", flush=True)
        build(env)
        secrets.generate(env)
        stack.deploy(env, timeout=600)
        started = time.monotonic()
        size = generate(env, args.rows)
        print(f"generated {human(size)} in database dfr in {time.monotonic() - started:.0f} s", flush=True)
        in_db(env, "pgbackrest", "--stanza=bench", "stanza-create")
        psql(env, "ALTER SYSTEM SET archive_command = '/usr/local/bin/dfr-archive-wal \"%p\" \"%f\""
                  " && pgbackrest --stanza=bench archive-push \"%p\"'", db="postgres")
        psql(env, "SELECT pg_reload_conf()", db="postgres")
        wait_archived(env)

        rounds = [one_round(env, number, args.rounds) for number in range(1, args.rounds + 1)]
    finally:
        compose(env)["down", "--volumes", "--remove-orphans", "--timeout", "20"].run(retcode=None, timeout=300)
        for name in docker()["volume", "ls", "-q", "--filter", f"name={env.project_name}_"].run(retcode=None)[1].split():
            docker()["volume", "rm", "-f", name].run(retcode=None)
        docker()["run", "--rm", "-v", f"{work}:/w", "--entrypoint", "rm", env.image("postgres"), "-rf",
                 "/w/backups"].run(retcode=None, timeout=300)
        shutil.rmtree(work, ignore_errors=True)
    report(rounds, size, args)


if __name__ == "__main__":
    main()
