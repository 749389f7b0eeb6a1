#!/usr/bin/env python3
"""Fill a running DFR stack with registry-like data for the backup benchmark.

Database: farmers, plots and households made with generate_series in SQL (text, numbers,
dates, jsonb, with primary keys, a unique and secondary indexes - index builds are what
dominates restores). Filestore: files written straight into the odoo_data volume by one
container (about 70% random bytes like photos and PDFs, 30% compressible text), each with its
ir_attachment row and SHA-1, exactly as Odoo stores them.

    .venv/bin/python benchmarks/generate_backup_data.py --env=prod --db-gb=1 --files-gb=1
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dfr_deploy import environments  # noqa: E402
from dfr_deploy.backup import mounts, settings  # noqa: E402
from dfr_deploy.backup.runner import Runner  # noqa: E402
from dfr_deploy.stack.database import Catalog  # noqa: E402

# ~215 bytes a farmer row with its plot and household share: rows per GB of table + index data
FARMERS_PER_GB = 2_600_000

# The tools' psql runs with search_path=pg_catalog (stack.database.SAFE_OPTIONS): the data is
# the application's, in public.
SQL = """
SET ROLE :"owner";
SET search_path = public;
SET synchronous_commit = off;
CREATE TABLE bench_farmer (id bigint PRIMARY KEY, national_id text NOT NULL, name text NOT NULL,
    village text, born date, phone text, notes text, created timestamptz DEFAULT now());
INSERT INTO bench_farmer SELECT g, 'NID-' || lpad(g::text, 10, '0'),
    'Farmer ' || substr(md5(g::text), 1, 10) || ' ' || substr(md5((g * 7)::text), 1, 8),
    'Village ' || (g % 5000), date '1950-01-01' + (g % 20000), '+2547' || lpad((g % 100000000)::text, 8, '0'),
    repeat(substr(md5((g * 13)::text), 1, 16) || ' ', 4)
    FROM generate_series(1, :farmers) g;
CREATE UNIQUE INDEX bench_farmer_nid ON bench_farmer (national_id);
CREATE INDEX bench_farmer_village ON bench_farmer (village);
CREATE TABLE bench_plot (id bigint PRIMARY KEY, farmer_id bigint REFERENCES bench_farmer (id),
    area numeric(12,2), crop text, geo text);
INSERT INTO bench_plot SELECT g, g, (g % 1000) / 7.0, (ARRAY['maize','beans','tea','coffee','rice'])[1 + g % 5],
    'POINT(' || (g % 360) || ' ' || (g % 180) || ')' FROM generate_series(1, :farmers) g;
CREATE INDEX bench_plot_farmer ON bench_plot (farmer_id);
CREATE TABLE bench_household (id bigint PRIMARY KEY, head bigint REFERENCES bench_farmer (id), members jsonb);
INSERT INTO bench_household SELECT g, g, jsonb_build_object('size', g % 9, 'children', g % 5,
    'livestock', jsonb_build_object('cattle', g % 11, 'goats', g % 7)) FROM generate_series(1, :farmers, 2) g;
CREATE INDEX bench_household_head ON bench_household (head);
ANALYZE;
"""

# Writes the files inside the backup-tools container (a script mounted read-only, not sent as source)
FILES_SCRIPT = Path(__file__).resolve().parent / "bench_files.py"


def generate(env, db_gb, files_gb):
    runner, catalog = Runner(env), Catalog(env)
    db = settings.db_name(env)
    farmers = int(FARMERS_PER_GB * db_gb)
    print(f"database: {farmers} farmers (+ plots, households) ...", flush=True)
    catalog.in_database(db, SQL, {"farmers": farmers, "owner": settings.db_user(env)}, "generating the database")
    print(f"filestore: {files_gb} GB of files ...", flush=True)
    rows = runner.command("bench-files", ["python3", "/bench/bench_files.py", f"{mounts.FILESTORE}/{db}",
                                          str(int(files_gb * 1024 ** 3))],
                          volumes=[mounts.volume(runner.odoo_volume, mounts.ODOO_DATA, False),
                                   mounts.bind(FILES_SCRIPT, "/bench/bench_files.py")]).run(timeout=3600)[1]
    copy = ("SET ROLE :\"owner\";\nSET search_path = public;\nCREATE TEMP TABLE f (name text, store_fname text, checksum text, size int);\n"
            "COPY f FROM STDIN;\n" + rows + "\\.\n"
            "INSERT INTO ir_attachment (name, store_fname, checksum, file_size, mimetype)"
            " SELECT name, store_fname, checksum, size, 'application/octet-stream' FROM f;\n")
    catalog.in_database(db, copy, {"owner": settings.db_user(env)}, "adding the attachment rows")
    size = catalog.sql("SELECT pg_database_size(:'db')", {"db": db})
    runner.close()
    print(f"done: database {int(size) / 1024 ** 3:.2f} GiB, {len(rows.splitlines())} files")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="devel")
    parser.add_argument("--db-gb", type=float, default=1.0)
    parser.add_argument("--files-gb", type=float, default=1.0)
    args = parser.parse_args()
    generate(environments.resolve(args.env), args.db_gb, args.files_gb)


if __name__ == "__main__":
    main()
