"""Reading a directory-format dump: its table of contents, its data files, the attachments.

pg_restore itself reads the table of contents (its text output against empty data files), so
no TOC format is parsed here; only the lines it prints.
"""
import os
import re
import shutil
import subprocess
import tempfile

from .process import Failed, describe, run

# A COPY statement as pg_dump writes it: COPY schema.table (columns) FROM stdin;
COPY_STATEMENT = re.compile(r'^COPY ((?:"(?:[^"]|"")*"|[^\s."]+)\.(?:"(?:[^"]|"")*"|[^\s."]+)) (.*)FROM stdin;$')
TOC_ENTRY = re.compile(r"^-- TOC entry (\d+) ")
CLIENT_ENCODING = re.compile(r"^SET client_encoding = '([A-Za-z0-9_]+)';$")
# A line of `pg_restore -l`: "id; tableoid oid TYPE schema name owner" (the type comes first,
# so a table or index named "... TABLE DATA ..." cannot pass for one)
TABLE_DATA_ITEM = re.compile(r"^(\d+); \d+ \d+ TABLE DATA ")
FK_ITEM = re.compile(r"^(\d+); \d+ \d+ FK CONSTRAINT ")


def listing(dump_dir):
    """The entries of `pg_restore -l` (comments and blank lines left out)."""
    text = run(["pg_restore", "-l", dump_dir], stdout=subprocess.PIPE, text=True, errors="surrogateescape").stdout
    return [line for line in text.splitlines() if line.strip() and not line.startswith(";")]


def table_data_ids(entries):
    return [m.group(1) for m in map(TABLE_DATA_ITEM.match, entries) if m]


def table_copies(scratch, ids):
    """({dump id: (qualified table, COPY statement)} for the TABLE DATA entries `ids`, the dump's
    client encoding), read from the TOC by pg_restore itself (its text output, against empty
    data files). scratch holds toc.dat."""
    path = os.path.join(scratch, "table-data.list")
    with open(path, "w") as handle:
        for dump_id in ids:
            handle.write(f"{dump_id}; 0 0 TABLE DATA - - -\n")
            open(os.path.join(scratch, f"{dump_id}.dat"), "w").close()
    # --verbose for the "-- TOC entry" lines; its progress lines on stderr are kept for a failure
    done = subprocess.run(["pg_restore", "--verbose", "--data-only", "-L", path, "-f", "-", scratch],
                          capture_output=True, text=True, errors="surrogateescape")
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if "error" in line] or done.stderr.splitlines()[-1:]
        raise Failed(f"reading the dump's table of contents: pg_restore {describe(done.returncode)}"
                     + (f": {said[0]}" if said else ""))
    text = done.stdout
    copies, current, encoding = {}, None, None
    for line in text.splitlines():
        setting = CLIENT_ENCODING.match(line)
        if setting:
            encoding = setting.group(1)
            continue
        entry = TOC_ENTRY.match(line)
        if entry:
            current = entry.group(1)
            continue
        statement = COPY_STATEMENT.match(line)
        if statement and current in ids:
            copies[current] = (statement.group(1), statement.group(1) + " " + statement.group(2))
            current = None
    missing = sorted(set(ids) - set(copies), key=int)
    if missing:
        raise Failed(f"no COPY statement found in the dump's table of contents for item(s) {', '.join(missing)}")
    return copies, encoding


def data_reader(dump, dump_id):
    """The command that writes a table's data file, uncompressed, to stdout."""
    for suffix, command in ((".dat.zst", ["zstd", "-dcq"]), (".dat.gz", ["gzip", "-dc"]), (".dat", ["cat"])):
        path = os.path.join(dump, dump_id + suffix)
        if os.path.isfile(path):
            return command + [path]
    raise Failed(f"the dump has no data file for item {dump_id}")


def unpack_dump(dump, scratch, skip=()):
    """A set's directory dump as pg_restore reads it, in scratch: toc.dat, every data file
    unpacked (but the items in `skip`), the rest (blobs.toc, plain files) copied."""
    os.makedirs(scratch, exist_ok=True)
    for entry in os.scandir(dump):
        if entry.name.split(".", 1)[0] in skip or not entry.is_file(follow_symlinks=False):
            continue
        if entry.name.endswith(".dat.zst"):
            run(["zstd", "-dq", "-T1", entry.path, "-o", os.path.join(scratch, entry.name[:-4])])
        elif not os.path.exists(os.path.join(scratch, entry.name)):
            shutil.copy(entry.path, scratch)


def unescape_copy(value):
    """A field of COPY's text format (store_fname and checksum never hold tabs or newlines)."""
    if value == "\\N":
        return None
    return value.replace("\\\\", "\\")


def dump_attachments(dump_dir, scratch):
    """{store_fname: checksum} of ir_attachment rows in a directory-format dump (None: not Odoo's).

    The table's data file is unpacked into scratch first: pg_restore (15.20 and later) reads
    only regular files, so neither a symlinked toc.dat nor a FIFO fed by `zstd -dc` will do.
    ir_attachment holds only metadata (the files are in the filestore), so it stays small.
    """
    entries = listing(dump_dir)
    entry = None
    for line in entries:
        parts = line.split()
        if TABLE_DATA_ITEM.match(line) and len(parts) >= 7 and parts[-2] == "ir_attachment":
            entry = parts[0].rstrip(";")
    if entry is None:
        return None
    tmp = tempfile.mkdtemp(dir=scratch)
    try:
        shutil.copy(os.path.join(dump_dir, "toc.dat"), os.path.join(tmp, "toc.dat"))
        data = os.path.join(tmp, f"{entry}.dat")
        source = os.path.join(dump_dir, f"{entry}.dat.zst")
        if os.path.exists(source):
            with open(data, "wb") as sink:
                if subprocess.run(["zstd", "-dcq", source], stdout=sink).returncode != 0:
                    raise Failed("reading ir_attachment back from the dump: zstd could not decompress it")
        else:
            shutil.copy(os.path.join(dump_dir, f"{entry}.dat"), data)
        listfile = os.path.join(tmp, "list")
        with open(listfile, "w") as fh:
            fh.write(next(line for line in entries if line.startswith(entry + ";")) + "\n")
        reader = subprocess.Popen(["pg_restore", "--data-only", "-L", listfile, "-f", "-", tmp],
                                  stdout=subprocess.PIPE, text=True, errors="surrogateescape")
        found, columns, inside = {}, None, False
        for line in reader.stdout:
            line = line.rstrip("\n")
            if not inside:
                if line.startswith("COPY ") and "ir_attachment" in line:
                    cols = line[line.index("(") + 1:line.rindex(")")]
                    columns = [c.strip().strip('"') for c in cols.split(",")]
                    inside = True
                continue
            if line == "\\.":
                inside = False
                continue
            fields = line.split("\t")
            name = unescape_copy(fields[columns.index("store_fname")])
            if name:
                found[name] = unescape_copy(fields[columns.index("checksum")])
        code = reader.wait()
        if code != 0:
            raise Failed(f"reading ir_attachment back from the dump: pg_restore {describe(code)}")
        return found
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
