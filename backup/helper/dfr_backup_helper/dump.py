"""dump: pg_dump in directory format with parallel jobs, each data file through zstd as soon as
pg_dump has finished it, its rows counted on the way.

PostgreSQL 15's pg_dump only compresses with gzip (slow, single-threaded per table); an
uncompressed dump with zstd of the files in parallel is much faster and smaller. The small
tables' files are compressed while the big ones are still being dumped (pg_dump's verbose
"finished item" lines say which are complete); whatever is left is compressed after.
toc.dat stays plain so `pg_restore -l` reads the table of contents without unpacking.
--no-sync: the plain files are deleted once compressed; the set is fsynced once, whole,
before it is published.
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from .process import CHUNK, Failed, describe
from .toc import listing, table_copies, table_data_ids

# pg_dump --verbose, parallel mode: the leader logs each item once its worker has closed the file.
FINISHED_DATA = re.compile(r"^pg_dump: finished item (\d+) TABLE DATA ")
PG_DUMP_INFO = re.compile(r"^pg_dump: (?!error:|warning:|detail:|hint:)")


END_OF_DATA = b"\\.\n\n\n"     # what pg_dump writes after a table's rows in its data file
KEEP = len(END_OF_DATA) + 1   # the tail that tells whether the file ends with it


def squeeze(path, level, threads=1):
    """zstd a data file into path.zst through this process, counting its lines (COPY's text
    format: one line per row, then pg_dump's end marker); returns (bytes, rows)."""
    size = rows = 0
    tail = b""
    with open(path, "rb") as source, open(path + ".zst", "xb") as sink:
        zstd = subprocess.Popen(["zstd", "-q", f"-{level}", f"-T{threads}", "-c"], stdin=subprocess.PIPE, stdout=sink)
        try:
            for block in iter(lambda: source.read(4 * CHUNK), b""):
                rows += block.count(b"\n")
                size += len(block)
                tail = (tail + block[-KEEP:])[-KEEP:]     # never a copy of the whole block
                zstd.stdin.write(block)
            zstd.stdin.close()
        except BrokenPipeError:
            pass
        finally:
            code = zstd.wait()
    if code != 0:
        raise Failed(f"compressing {os.path.basename(path)}: zstd {describe(code)}")
    os.unlink(path)
    if tail == END_OF_DATA or tail.endswith(b"\n" + END_OF_DATA):
        rows -= END_OF_DATA.count(b"\n")
    return size, rows


def row_counts(out, counted):
    """{schema.table: rows} for every TABLE DATA item (names quoted as pg_dump writes them,
    i.e. format('%I.%I')); the table of contents is read in a copy under /tmp."""
    scratch = tempfile.mkdtemp()
    try:
        shutil.copy(os.path.join(out, "toc.dat"), scratch)
        ids = table_data_ids(listing(scratch))
        copies, _ = table_copies(scratch, ids) if ids else ({}, None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {copies[dump_id][0]: counted.get(dump_id, 0) for dump_id in ids}


def cmd_dump(args):
    out = args.out
    if os.path.lexists(out):
        raise Failed(f"{out} already exists")
    began = time.monotonic()
    started = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {}
        dump = subprocess.Popen(["pg_dump", "--format=directory", f"--jobs={args.jobs}", "--compress=0",
                                 "--no-password", "--no-sync", "--verbose", f"--file={out}", args.dbname],
                                stderr=subprocess.PIPE, text=True, errors="replace")
        for line in dump.stderr:
            finished = FINISHED_DATA.match(line)
            if finished:
                path = os.path.join(out, f"{finished.group(1)}.dat")
                if os.path.isfile(path) and path not in started:
                    started.add(path)
                    futures[finished.group(1)] = pool.submit(squeeze, path, args.level)
            elif not PG_DUMP_INFO.match(line):
                sys.stderr.write(line)   # errors, warnings and the server's messages
        code = dump.wait()
        dumped = time.monotonic()
        if code == 0:
            # what is left once pg_dump is done (often the biggest table alone): the jobs' threads
            # shared among those files
            left = [e.path for e in os.scandir(out)
                    if e.name.endswith(".dat") and e.name != "toc.dat" and e.path not in started]
            threads = max(1, args.jobs // max(1, len(left)))
            for path in left:
                futures[os.path.basename(path)[:-4]] = pool.submit(squeeze, path, args.level, threads)
        if code != 0:
            concurrent.futures.wait(futures.values())   # the dump's failure is the one to report
            raise Failed(f"pg_dump {describe(code)}")
        results = {name: future.result() for name, future in futures.items()}
    raw = sum(size for size, _ in results.values()) + os.path.getsize(os.path.join(out, "toc.dat"))
    rows = row_counts(out, {name: count for name, (_, count) in results.items()})
    print(json.dumps({"tables": len(results), "raw_bytes": raw, "pg_dump_seconds": round(dumped - began, 1),
                      "zstd_after_seconds": round(time.monotonic() - dumped, 1),
                      "compressed_during_dump": len(started), "rows": rows}))
