#!/usr/bin/env python3
"""Benchmark `invoke backup` / `invoke restore` against the usual baseline (figures, not pass/fail).

On one throwaway production-like stack (test images: the Odoo stand-in, real PostgreSQL 15),
filled by generate_backup_data.py (default 1 GB of database, 1 GB of filestore), it runs side
by side on the same data:
  baseline backup   pg_dump | gzip  and  tar czf filestore
  baseline restore  gunzip | psql   and  tar xzf filestore   (into a new database/folder)
  ours              invoke backup   and  invoke restore (checks, side database, swap, Odoo up)
and prints times, sizes, ratios and where the time goes. Both run in the same backup-tools
container image on the stack's network, with the same CPU and disk. The stack, its volumes and
the files are removed at the end.

    .venv/bin/python benchmarks/backup.py [--db-gb=1] [--files-gb=1] [--jobs=2] [--rounds=3] [--no-monitoring]
"""
import argparse
import json
import os
import statistics
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dfr_deploy.backup import mounts, roles, settings  # noqa: E402
from dfr_deploy.backup.restore import run as restore_run, swap as restore_swap  # noqa: E402
from dfr_deploy.backup.runner import Runner, new_folder  # noqa: E402
from dfr_deploy.backup.sets import logical  # noqa: E402
from dfr_deploy.commands import backup as backup_commands, restore as restore_commands  # noqa: E402
from dfr_deploy.docker import compose  # noqa: E402
from dfr_deploy.stack.database import Catalog  # noqa: E402
import bench_stack  # noqa: E402
import generate_backup_data  # noqa: E402

class StepTimes:
    """Record how long each progress step of our backup/restore takes."""

    def __init__(self):
        self.times = []

    @contextmanager
    def patch(self, module):
        original = module.step

        @contextmanager
        def timed(number, total, title):
            started = time.monotonic()
            with original(number, total, title) as value:
                yield value
            self.times.append((title, time.monotonic() - started))

        module.step = timed
        try:
            yield
        finally:
            module.step = original


def timed(function, *args, **kwargs):
    started = time.monotonic()
    result = function(*args, **kwargs)
    return time.monotonic() - started, result


# The baseline is what generic backup scripts do: shell pipelines, run in the same tools image,
# as the same user, with the same limits and network as our steps (benchmark code only).
def baseline_backup(runner, out, db):
    """pg_dump | gzip > db.sql.gz ; tar czf filestore.tar.gz (plain, as generic scripts do)."""
    times = {}
    odoo_ro = mounts.volume(runner.odoo_volume, mounts.ODOO_DATA)
    times["pg_dump | gzip"], _ = timed(runner.run, "baseline", [
        "bash", "-c", 'set -o pipefail; pg_dump --no-password "$1" | gzip > "$2"', "sh", db, "/out/db.sql.gz"],
        "baseline pg_dump | gzip", role=roles.application(runner.env), volumes=[mounts.bind(out, "/out", False)])
    times["tar czf filestore"], _ = timed(runner.run, "baseline", [
        "tar", "-C", f"{mounts.ODOO_DATA}/filestore", "-czf", "/out/filestore.tar.gz", db], "baseline tar czf",
        volumes=[odoo_ro, mounts.bind(out, "/out", False)])
    return times


def baseline_restore(runner, catalog, out, db):
    target = "bench_baseline"
    catalog.sql('CREATE DATABASE :"t" OWNER :"o" TEMPLATE template0', {"t": target, "o": "odoo"})
    times = {}
    times["gunzip | psql"], _ = timed(runner.run, "baseline", [
        "bash", "-c", 'set -o pipefail; gunzip -c "$1" | psql -q -X --no-password -d "$2" >/dev/null', "sh",
        "/set/db.sql.gz", target], "baseline gunzip | psql", role=roles.application(runner.env),
        volumes=[mounts.bind(out, "/set")])
    times["tar xzf filestore"], _ = timed(runner.run, "baseline", [
        "sh", "-c", 'mkdir -p "$2" && tar -C "$2" -xzf "$1"', "sh", "/set/filestore.tar.gz",
        f"{mounts.ODOO_DATA}/filestore/{target}"], "baseline tar xzf",
        volumes=[mounts.bind(out, "/set"), mounts.volume(runner.odoo_volume, mounts.ODOO_DATA, False)])
    restore_swap.drop_copy(runner, catalog, target)
    return times


def settle(catalog, limit=300):
    """Before each timed run: wait (bounded) until the WAL archiver has caught up, then flush
    every dirty page to disk (sync), so that no run pays for the WAL or the writes of the one
    before it (the archiver and the disk are shared); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if catalog.sql("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'") == "0":
            break
        time.sleep(1)
    os.sync()
    return time.monotonic() - started


def size_of(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def one_round(env, runner, catalog, work, db, jobs, number, total):
    """Baseline backup, our backup, baseline restore, our restore - each after settle()."""
    print(f"\n---------------- round {number} of {total} ----------------", flush=True)
    base = work / "baseline"
    shutil.rmtree(base, ignore_errors=True)
    new_folder(base)
    result = {"waited": [settle(catalog)]}
    # The one door (our tasks) clears the credentials of runs it did not start: one runner a phase.
    runner = Runner(env)
    result["b_backup"] = baseline_backup(runner, base, db)
    result["b_size"] = size_of(base)

    backup_steps = StepTimes()
    result["waited"].append(settle(catalog))
    with backup_steps.patch(logical):
        # the task, as an operator runs it (the one door included)
        result["o_backup"], set_path = timed(backup_commands.backup, env, jobs=jobs, encrypt=False,
                                             copy_offsite=False)
    result["o_backup_steps"] = backup_steps.times
    result["o_size"] = size_of(set_path)
    made = json.loads((set_path / "manifest.json").read_text())
    result["dump"], result["files"] = made["database"], made["filestore"]

    result["waited"].append(settle(catalog))
    runner = Runner(env)
    result["b_restore"] = baseline_restore(runner, catalog, base, db)
    result["waited"].append(settle(catalog))
    restore_steps = StepTimes()
    with restore_steps.patch(restore_run):
        # The default restore, as an operator runs it: the replaced database and filestore
        # are kept as the previous copy (the baseline, too, leaves the old data in place).
        result["o_restore"], previous = timed(restore_commands.restore, env, str(set_path), force=True, confirm=db,
                                              jobs=jobs)
    result["o_restore_steps"] = restore_steps.times
    runner = Runner(env)
    restore_swap.drop_copy(runner, catalog, previous)
    result["b_backup_time"] = sum(result["b_backup"].values())
    result["b_restore_time"] = sum(result["b_restore"].values())
    return result


def report(rounds, db_size, args):
    print("\n================ backup benchmark ================")
    files = rounds[-1]["files"]
    print(f"data: database {db_size / 1e9:.2f} GB, filestore {files['raw_bytes'] / 2 ** 30:.2f} GiB in "
          f"{files['files']} files; jobs {args.jobs}; "
          f"{len(rounds)} round(s), each: baseline backup, ours, baseline restore, ours")
    print("waited for the WAL archiver (then sync) before each run: "
          + "; ".join(", ".join(f"{w:.0f} s" for w in r["waited"]) for r in rounds))
    rows = (("backup time (s)", "b_backup_time", "o_backup", "<= 0.30"),
            ("restore time (s)", "b_restore_time", "o_restore", "<= 0.75"),
            ("size (MB)", "b_size", "o_size", "<= 1.00"))
    print(f"\n{'':20}{'round':>6}{'baseline':>11}{'ours':>9}{'ratio':>8}")
    for label, base_key, ours_key, _ in rows:
        scale = 1e6 if label.startswith("size") else 1
        for number, r in enumerate(rounds, 1):
            print(f"{label:20}{number:6}{r[base_key] / scale:11.1f}{r[ours_key] / scale:9.1f}"
                  f"{r[ours_key] / r[base_key]:8.2f}")
    print(f"\nmedian of {len(rounds)} round(s){'':4}{'baseline':>10}{'ours':>9}{'ratio':>8}  target")
    for label, base_key, ours_key, target in rows:
        scale = 1e6 if label.startswith("size") else 1
        base = statistics.median(r[base_key] for r in rounds) / scale
        ours = statistics.median(r[ours_key] for r in rounds) / scale
        ratio = statistics.median(r[ours_key] / r[base_key] for r in rounds)
        print(f"{label:24}{base:10.1f}{ours:9.1f}{ratio:8.2f}  {target}")
    last = rounds[-1]
    database = last["dump"]
    print(f"\nours, inside the dump step (last round): pg_dump {database['pg_dump_seconds']} s, then zstd of what "
          f"was left {database['zstd_after_dump_seconds']} s ({database['files_compressed_during_dump']} of "
          f"{database['data_files']} data files compressed while pg_dump ran)")
    print("\nwhere the time goes (last round)")
    for label, values in (("baseline backup", last["b_backup"].items()), ("ours backup", last["o_backup_steps"]),
                          ("baseline restore", last["b_restore"].items()), ("ours restore", last["o_restore_steps"])):
        print(f"  {label}:")
        for title, seconds in values:
            print(f"    {seconds:8.1f} s  {title}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-gb", type=float, default=1.0)
    parser.add_argument("--files-gb", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four runs; medians are reported")
    parser.add_argument("--no-monitoring", action="store_true",
                        help="a stack without the monitoring services (its shape before they came; they take "
                             "CPU from both sides)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dfr-bench-backup-"))
    env = bench_stack.environment(work, "dfrbench", args.jobs, monitoring=not args.no_monitoring)
    try:
        bench_stack.start(env)
        gen_time, _ = timed(generate_backup_data.generate, env, args.db_gb, args.files_gb)
        runner, catalog = Runner(env), Catalog(env)
        db = settings.db_name(env)
        db_size = int(catalog.sql("SELECT pg_database_size(:'db')", {"db": db}))
        print(f"\ndata generated in {gen_time:.0f} s; database {db_size / 1e9:.2f} GB\n", flush=True)

        rounds = [one_round(env, runner, catalog, work, db, args.jobs, number, args.rounds)
                  for number in range(1, args.rounds + 1)]
        runner.close()
        report(rounds, db_size, args)
    finally:
        compose(env)["down", "--volumes", "--remove-orphans", "--timeout", "20"].run(retcode=None, timeout=600)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
