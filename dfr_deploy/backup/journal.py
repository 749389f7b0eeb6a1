"""Swap journals: a small JSON file, written atomically and durably (temp file, fsync, rename,
fsync of the folder), that says how far a swap got, so an interrupted one can be undone."""
import json
import os

from . import manifest


def path(tools, name):
    return tools.backup_dir / name


def write(tools, name, data):
    target = path(tools, name)
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    manifest.fsync_path(target.parent)
