"""wal-list: the WAL archive's files, for the host to classify and prune (runs as postgres, 999)."""
import json
import os


def cmd_wal_list(args):
    """[[name, size, mtime], ...] of the regular files of the archive folder (links and folders
    are not WAL)."""
    files = []
    for entry in os.scandir(args.archive):
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            files.append([entry.name, st.st_size, st.st_mtime])
    print(json.dumps({"files": sorted(files)}))
