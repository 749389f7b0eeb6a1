#!/usr/bin/env python3
"""Benchmark the restore drill's RTO at two sizes (figures, not pass/fail).

For each size (default 1 and 4 GB of database, each with a filestore of the same size, made by
generate_backup_data.py) on its own throwaway prod-like stack (test images: the Odoo stand-in,
real PostgreSQL 15): `invoke backup`, then side by side on that set

  restore into the live stack   what benchmarks/backup.py measures: the stack already holds
                                every file, so the filestore step is hard links only
  drill (empty target)          `invoke backup-drill`: the same restore into an empty throwaway
                                stack - the disaster case, where every file is written - up to
                                Odoo healthy on it (the RTO), then every row count and SHA-1

and prints seconds, seconds per GB of database and the ratio of the big size to the small one
(target for the drill: at most the ratio of the sizes, i.e. the cost grows no faster than the
data). The stacks, their volumes and the files are removed at the end.

    .venv/bin/python benchmarks/drill.py [--sizes=1,4] [--jobs=2]
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dfr_deploy.backup import settings  # noqa: E402
from dfr_deploy.backup.restore import swap as restore_swap  # noqa: E402
from dfr_deploy.backup.runner import Runner  # noqa: E402
from dfr_deploy.commands import backup as backup_commands, drill, restore as restore_commands  # noqa: E402
from dfr_deploy.docker import compose  # noqa: E402
from dfr_deploy.stack.database import Catalog  # noqa: E402
from backup import settle, size_of, timed  # noqa: E402  (benchmarks/backup.py)
import bench_stack  # noqa: E402
import generate_backup_data  # noqa: E402


def one_size(gb, jobs, work):
    """A new stack with `gb` GB of database and of files: backup, restore in place, drill."""
    print(f"\n================ {gb:g} GB of database + {gb:g} GB of files ================", flush=True)
    folder = work / f"{gb:g}gb"
    env = bench_stack.environment(folder, "dfrdrillbench", jobs)
    try:
        bench_stack.start(env)
        generate_backup_data.generate(env, gb, gb)
        catalog, db = Catalog(env), settings.db_name(env)
        result = {"gb": gb, "db_bytes": int(catalog.sql("SELECT pg_database_size(:'db')", {"db": db}))}
        settle(catalog)
        result["backup"], set_path = timed(backup_commands.backup, env, jobs=jobs, encrypt=False, copy_offsite=False)
        made = json.loads((set_path / "manifest.json").read_text())
        result["files_bytes"], result["set_bytes"] = made["filestore"]["raw_bytes"], size_of(set_path)

        settle(catalog)
        result["in_place"], previous = timed(restore_commands.restore, env, str(set_path), force=True, confirm=db,
                                             jobs=jobs)
        runner = Runner(env)
        restore_swap.drop_copy(runner, catalog, previous)   # as the next restore would: only one copy kept
        runner.close()

        settle(catalog)
        result["drill"], outcome = timed(drill.drill, env, set_name=set_path.name)
        result["rto"] = outcome[0]["rto_seconds"]
        return result
    finally:
        compose(env)["down", "--volumes", "--remove-orphans", "--timeout", "20"].run(retcode=None, timeout=600)
        shutil.rmtree(folder, ignore_errors=True)


def report(results):
    print("\n================ drill benchmark ================")
    print(f"{'size':>6}{'database':>10}{'files':>8}{'set':>8}{'backup':>9}{'restore in place':>18}"
          f"{'drill RTO':>11}{'drill total':>13}{'RTO s/GB':>10}")
    for r in results:
        print(f"{r['gb']:5g}G{r['db_bytes'] / 1e9:9.2f}G{r['files_bytes'] / 1e9:7.2f}G{r['set_bytes'] / 1e9:7.2f}G"
              f"{r['backup']:8.0f}s{r['in_place']:17.0f}s{r['rto']:10.0f}s{r['drill']:12.0f}s"
              f"{r['rto'] / (r['db_bytes'] / 1e9):10.1f}")
    if len(results) >= 2:
        small, big = results[0], results[-1]
        size_ratio = big["db_bytes"] / small["db_bytes"]
        print(f"\n{big['gb']:g} GB / {small['gb']:g} GB: database size ratio {size_ratio:.2f}; "
              f"drill RTO ratio {big['rto'] / small['rto']:.2f} (target <= {size_ratio:.2f}); "
              f"restore in place ratio {big['in_place'] / small['in_place']:.2f}")
    print("\nrestore in place = into the stack that holds every file (hard links); drill = into an empty "
          "stack (every file written), RTO = from the drill's start to Odoo healthy on the restored data; "
          "drill total adds the row and SHA-1 checks and removing the throwaway stack.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4", help="GB of database (and of files) of each stack, comma separated")
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs of pg_dump/pg_restore")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dfr-bench-drill-"))
    started = time.monotonic()
    try:
        results = [one_size(float(size), args.jobs, work) for size in args.sizes.split(",")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results)
    print(f"\n(benchmark ran {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
