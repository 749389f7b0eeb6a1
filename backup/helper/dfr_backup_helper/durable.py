"""fsync: what a step wrote survives a power cut once the step says it is done."""
import os


def fsync_paths(*paths):
    """fsync files and folders (a folder: so the names in it survive a power cut)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_tree(path):
    """fsync every file and directory under path (and path itself); links are not followed."""
    for root, dirs, files in os.walk(path):
        fsync_paths(*(os.path.join(root, name) for name in files
                      if not os.path.islink(os.path.join(root, name))), root)
