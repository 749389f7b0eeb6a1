"""restore-db: a set's directory dump into the side database, in three passes.

1. pg_restore --section=pre-data: the schema, without indexes and constraints;
2. every table's data streamed from its zstd file into COPY FREEZE, `jobs` at a time,
   largest first (nothing is unpacked to disk); then the other data items (sequence
   values, large objects) by pg_restore;
3. pg_restore --section=post-data --jobs: indexes, constraints, triggers; the foreign keys
   added NOT VALID (through the SQL guard: their text comes from the dump), then validated
   side by side (see validate_foreign_keys).
"""
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import time

from .process import Failed, describe, run
from .sqlguard import Refused, SqlGuard
from .sqlload import load_sql, pg_restore, psql_command
from .toc import FK_ITEM, TABLE_DATA_ITEM, data_reader, listing, table_copies, table_data_ids, unpack_dump


def foreign_keys_not_valid(scratch, entries):
    """The dump's foreign keys as SQL that adds them NOT VALID (no check yet), or None when the
    dump holds none, or some already NOT VALID (they must stay unchecked: pg_restore adds them)."""
    fks = [line for line in entries if FK_ITEM.match(line)]
    if not fks:
        return None
    path = os.path.join(scratch, "fk.list")
    with open(path, "w") as handle:
        handle.writelines(line + "\n" for line in fks)
    text = run(["pg_restore", "-f", "-", "-L", path, scratch], stdout=subprocess.PIPE).stdout
    return added_not_valid(text.decode("utf-8", "surrogateescape"), len(fks))


def added_not_valid(text, expected):
    """pg_restore's SQL for `expected` foreign keys, each made NOT VALID (None: leave it be)."""
    lines, changed, table = text.splitlines(), 0, ""
    for number, line in enumerate(lines):
        if line.startswith("ALTER TABLE "):
            table = line
        elif line.startswith("    ADD CONSTRAINT ") and line.endswith(";"):
            if "NOT VALID" in line:
                return None
            # A partitioned table (no ONLY) cannot take a NOT VALID foreign key in PostgreSQL 15:
            # it is added, and checked, as pg_dump wrote it.
            if table.startswith("ALTER TABLE ONLY "):
                lines[number] = line[:-1] + " NOT VALID;"
            changed += 1
    if changed != expected:
        return None   # not the layout pg_restore writes: let it add them itself
    return "\n".join(lines) + "\n"


def validate_foreign_keys(dbname, jobs):
    """VALIDATE every NOT VALID foreign key, `jobs` tables at a time, biggest first.

    Adding a foreign key locks the referenced table against any other one being added, so
    pg_restore checks the keys pointing at a table (res_partner, res_users...) one after the
    other; VALIDATE CONSTRAINT only needs a share lock there, so they are checked side by side.
    The keys of one table are checked by one session (they would wait for each other).
    psql -c sends its text to the server as it is: no meta-command is read from it."""
    query = ("SELECT json_agg(json_build_array(statements, size) ORDER BY size DESC) FROM ("
             " SELECT json_agg(format('ALTER TABLE %s VALIDATE CONSTRAINT %I', conrelid::regclass, conname))"
             " AS statements, pg_relation_size(conrelid) AS size"
             " FROM pg_constraint WHERE contype = 'f' AND NOT convalidated GROUP BY conrelid) AS t")
    out = run(psql_command(dbname, "-At", "-c", query), stdout=subprocess.PIPE, text=True).stdout.strip()
    tables = [statements for statements, _ in json.loads(out or "null") or []]

    def validate(statements):
        run(psql_command(dbname, *[arg for statement in statements for arg in ("-c", statement)]))

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(validate, statements) for statements in tables]:
            future.result()
    return sum(len(statements) for statements in tables)


def load_table(dump, dump_id, table, columns, dbname):
    """One table's data, streamed from its compressed file into COPY ... WITH (FREEZE).

    FREEZE needs the table emptied in the same transaction (TRUNCATE, one transaction by -1).
    Its rows are then written frozen and the pages all-visible: nothing rewrites them later to
    set hint bits (every page again, and in the WAL with data checksums) or to freeze them.
    The statements go by -c (sent as they are, never read for meta-commands); the data is read
    by psql's COPY, which only looks for its end marker in it."""
    producer = subprocess.Popen(data_reader(dump, dump_id), stdout=subprocess.PIPE)
    try:
        loaded = subprocess.run(psql_command(dbname, "--single-transaction", "-c", f"TRUNCATE ONLY {table}",
                                             "-c", f"COPY {columns}FROM STDIN WITH (FREEZE)"), stdin=producer.stdout)
    finally:
        producer.stdout.close()
        code = producer.wait()
    # A reader that failed is the cause (psql then sees a cut row, or commits a short table:
    # the side database is dropped either way), unless it only died of SIGPIPE because psql
    # had stopped reading: then psql's failure is.
    if code not in (0, -signal.SIGPIPE):
        raise Failed(f"reading the data of {table}: {producer.args[0]} {describe(code)}")
    if loaded.returncode != 0:
        raise Failed(f"loading {table}: psql {describe(loaded.returncode)}")
    if code != 0:
        raise Failed(f"reading the data of {table}: {producer.args[0]} {describe(code)}")


def load_tables(args, copies):
    def size(dump_id):
        return os.path.getsize(data_reader(args.dump, dump_id)[-1])

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(load_table, args.dump, dump_id, *copies[dump_id], args.dbname)
                   for dump_id in sorted(copies, key=size, reverse=True)]
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        for future in futures:
            future.cancel()
        for future in futures:
            if not future.cancelled():
                future.result()


def post_data(scratch, args, entries):
    """Indexes, constraints and triggers by pg_restore -j, then the foreign keys added NOT VALID
    and validated side by side (or all by pg_restore when they cannot be). Returns when the
    indexes were done and how many foreign keys were validated."""
    foreign_keys = foreign_keys_not_valid(scratch, entries)
    if foreign_keys is None:
        pg_restore(scratch, args.dbname, args.jobs, "--section=post-data")
        return time.monotonic(), 0
    sql = foreign_keys.encode("utf-8", "surrogateescape")
    try:
        guard = SqlGuard()       # checked whole before anything of post-data runs
        guard.feed(sql)
        guard.finish()
    except Refused as refusal:
        raise Failed(f"the dump's foreign keys: {refusal}: nothing was restored") from None
    rest = os.path.join(scratch, "post-data.list")
    with open(rest, "w") as handle:
        handle.writelines(line + "\n" for line in entries if not FK_ITEM.match(line))
    pg_restore(scratch, args.dbname, args.jobs, "--section=post-data", "-L", rest)
    indexed = time.monotonic()
    load_sql([sql], args.dbname, "the dump's foreign keys")
    return indexed, validate_foreign_keys(args.dbname, args.jobs)


def cmd_restore_db(args):
    scratch = args.scratch
    began = time.monotonic()
    os.makedirs(scratch, exist_ok=False)
    try:
        shutil.copy(os.path.join(args.dump, "toc.dat"), scratch)
        entries = listing(scratch)
        copies, encoding = table_copies(scratch, table_data_ids(entries))
        if encoding:   # the COPY sessions (and the other passes) read the data in the dump's encoding
            os.environ["PGCLIENTENCODING"] = encoding
        others = os.path.join(scratch, "other.list")
        with open(others, "w") as handle:
            handle.writelines(line + "\n" for line in entries if not TABLE_DATA_ITEM.match(line))
        unpack_dump(args.dump, scratch, skip=copies)   # what pg_restore itself reads: large objects
        pg_restore(scratch, args.dbname, 1, "--section=pre-data")
        schema = time.monotonic()
        load_tables(args, copies)
        pg_restore(scratch, args.dbname, 1, "--section=data", "-L", others)
        loaded = time.monotonic()
        indexed, validated = post_data(scratch, args, entries)
        checked = time.monotonic()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps({"restored": args.dbname, "tables": len(copies), "schema_seconds": round(schema - began, 1),
                      "data_seconds": round(loaded - schema, 1), "index_seconds": round(indexed - loaded, 1),
                      "foreign_keys": validated, "foreign_key_seconds": round(checked - indexed, 1)}))
