"""Writes that survive a power cut: temp file, fsync, rename, fsync of the folder.

Said once here and used by every file the tasks write that something else relies on (manifests,
swap journals, the volumes file, offsite records, metrics): a reader sees the old content or the
new one, never half of either.
"""
import os
from pathlib import Path


def fsync_path(path):
    """fsync one file or folder (a folder: so the names in it survive a power cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root):
    """Every file, then every folder bottom-up, then the parent."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            fsync_path(os.path.join(folder, name))
        fsync_path(folder)
    fsync_path(Path(root).parent)


def write_atomic(path, content, mode=0o600, owner=None):
    """Replace `path` with `content` (str or bytes) durably. `owner` (uid, gid): given to the
    file before it gets its name, when the writer may (files in folders the backup tools
    write into belong to the tools' user)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if owner is not None and os.geteuid() == 0:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
