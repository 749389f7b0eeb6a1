"""Write a set under a temporary name, fsync it, verify it, then publish it by one rename.

A folder whose name starts with `.tmp-` is never a set: listing, retention and restore ignore
it, and the next operation under the lock removes it. So a crash, a kill or a full disk at any
moment leaves either the complete, verified set under its final name, or nothing.
"""
import os
import shutil
from pathlib import Path

from ..errors import DfrError
from . import manifest
from .manifest import fsync_path

TEMP_PREFIX = ".tmp-"


def temp_dir(folder, name):
    path = Path(folder) / f"{TEMP_PREFIX}{name}-{os.getpid()}"
    path.mkdir(mode=0o700)
    return path


def fsync_tree(root):
    """Every file, then every folder bottom-up, then the parent: durable before the rename."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files:
            fsync_path(os.path.join(folder, name))
        fsync_path(folder)
    fsync_path(Path(root).parent)


def publish(tmp, final, jobs=2):
    """fsync + verify against the manifest + atomic rename; returns the verified manifest."""
    tmp, final = Path(tmp), Path(final)
    fsync_tree(tmp)
    data = manifest.verify(tmp, jobs)
    if final.exists():
        raise DfrError(f"{final} already exists: not overwriting a published set")
    os.rename(tmp, final)
    fsync_path(final.parent)
    return data


def discard(path, remover=None):
    """Remove an unpublished folder; `remover` (a container) for files written by root."""
    path = Path(path)
    if not path.exists():
        return
    try:
        shutil.rmtree(path)
    except PermissionError:
        if remover is None:
            raise
        remover(path)


def leftovers(folder):
    return sorted(p for p in Path(folder).glob(TEMP_PREFIX + "*"))
