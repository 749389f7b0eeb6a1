"""Write a set under a temporary name, fsync it, verify it, then publish it by one rename.

A folder whose name starts with `.tmp-` is never a set: listing, retention and restore ignore
it, and the next operation under the lock removes it. So a crash, a kill or a full disk at any
moment leaves either the complete, verified set under its final name, or nothing.
"""
import os
import shutil
from pathlib import Path

from .. import durable
from ..errors import DfrError
from . import manifest
from .runner import give_to_tools

TEMP_PREFIX = ".tmp-"


def temp_dir(folder, name):
    """A new unpublished folder, owned by the tools' user who writes the set into it."""
    path = Path(folder) / f"{TEMP_PREFIX}{name}-{os.getpid()}"
    path.mkdir(mode=0o700)
    give_to_tools(path)
    return path


def publish(tmp, final, jobs=2):
    """fsync + verify against the manifest + atomic rename; returns the verified manifest."""
    tmp, final = Path(tmp), Path(final)
    durable.fsync_tree(tmp)
    data = manifest.verify(tmp, jobs)
    if final.exists():
        raise DfrError(f"{final} already exists: not overwriting a published set")
    os.rename(tmp, final)
    durable.fsync_path(final.parent)
    return data


def discard(path):
    """Remove an unpublished (or pruned) folder (the tasks run as root: BACKUP_DIR is theirs)."""
    if Path(path).exists():
        shutil.rmtree(path)


def leftovers(folder):
    return sorted(p for p in Path(folder).glob(TEMP_PREFIX + "*"))
