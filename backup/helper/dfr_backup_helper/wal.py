"""wal-list: the WAL archive's files, for the host to classify and prune (runs as postgres, 999),
with the text of each timeline history file (the host reads which timeline descends from which)."""
import gzip
import json
import os
import re
import subprocess

HISTORY = re.compile(r"^[0-9A-F]{8}\.history\.(zst|gz)$")
HISTORY_MAX = 64 << 10      # a history file has one short line per ancestor timeline


def read_history(path, kind):
    """The decompressed text of one archived history file, at most HISTORY_MAX bytes (the
    archive is not trusted: a larger file is cut, and the host's parser reads only its lines)."""
    if kind == "gz":
        try:
            with gzip.open(path, "rb") as f:
                data = f.read(HISTORY_MAX)
        except (OSError, EOFError):   # not gzip: skipped (PostgreSQL would refuse it too)
            return None
    else:
        done = subprocess.run(["zstd", "-dcq", "--", path], capture_output=True, timeout=30, check=False)
        if done.returncode:
            return None
        data = done.stdout[:HISTORY_MAX]
    return data.decode("ascii", "replace")


def cmd_wal_list(args):
    """{"files": [[name, size, mtime], ...] of the regular files of the archive folder (links and
    folders are not WAL), "histories": {name: text}}."""
    files, histories = [], {}
    for entry in os.scandir(args.archive):
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            files.append([entry.name, st.st_size, st.st_mtime])
            match = HISTORY.match(entry.name)
            if match and st.st_size <= HISTORY_MAX:
                text = read_history(entry.path, match.group(1))
                if text is not None:
                    histories[entry.name] = text
    print(json.dumps({"files": sorted(files), "histories": histories}))
