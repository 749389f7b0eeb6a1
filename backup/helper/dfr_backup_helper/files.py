"""Files and folders in the mounted volumes: rename, remove, free space, is-a-folder, fsync, and
copying missing filestore files (merge). Links are never followed into or out of a root."""
import json
import os
import shutil
import stat

from .durable import fsync_paths, fsync_tree
from .process import CHUNK, Failed

FILE_MODE, DIR_MODE = 0o644, 0o755      # what Odoo itself writes in its filestore


def inside(path, roots):
    """Is path (the name itself, not what a symlink there points to) under one of the roots?"""
    real = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def cmd_move(args):
    """rename(2) folders inside a mounted volume (filestore swap), pair by pair, in order;
    refuses to overwrite. A missing source is skipped with --missing-ok, an error otherwise."""
    if len(args.paths) % 2:
        raise Failed("move needs SRC DST pairs")
    moved = []
    for src, dst in zip(args.paths[::2], args.paths[1::2]):
        if not os.path.lexists(src):
            if args.missing_ok:
                moved.append(False)
                continue
            raise Failed(f"{src} does not exist")
        if os.path.lexists(dst):
            raise Failed(f"{dst} already exists: refusing to overwrite it")
        os.rename(src, dst)
        fsync_paths(os.path.dirname(dst) or ".")
        moved.append(True)
    print(json.dumps({"moved": moved}))


def cmd_remove(args):
    """rm -rf under the mounted roots only (a symlink is removed, never followed)."""
    roots = [os.path.realpath(r) for r in args.root]
    for path in args.paths:
        if not inside(path, roots) or os.path.realpath(path) in roots:
            raise Failed(f"refusing to remove {path}: outside {', '.join(roots)}")
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
    print(json.dumps({"removed": len(args.paths)}))


def cmd_sync(args):
    fsync_tree(args.path)
    print(json.dumps({"synced": args.path}))


def cmd_df(args):
    """Free bytes of each path's file system (for the unprivileged user that writes there)."""
    report = {}
    for path in args.paths:
        st = os.statvfs(path)
        report[path] = {"free": st.f_bavail * st.f_frsize}
    print(json.dumps(report))


def cmd_is_dir(args):
    """Is PATH a folder (a symlink to one is not: nothing is followed)."""
    try:
        is_dir = stat.S_ISDIR(os.lstat(args.path).st_mode)
    except FileNotFoundError:
        is_dir = False
    print(json.dumps({"is_dir": is_dir}))


def real_folder(path):
    """Is path a folder reached without any symlink in its last component?"""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def cmd_merge_files(args):
    """Copy the regular files of SRC that DEST lacks into DEST (as `cp -a -n`, but never
    overwriting, never following a link on either side, modes 0644/0755, times kept).
    Filestore files are named by their content, so a name already in DEST is the same file."""
    if not real_folder(args.src) or not real_folder(args.dest):
        raise Failed(f"{args.src} and {args.dest} must both be folders")
    copied, present, skipped, synced = 0, 0, [], []
    for root, dirs, files in os.walk(args.src):     # os.walk does not enter symlinked folders
        relative = os.path.relpath(root, args.src)
        target_dir = os.path.normpath(os.path.join(args.dest, relative))
        kind = real_folder(target_dir)
        if kind is None:
            os.mkdir(target_dir, DIR_MODE)
            os.chmod(target_dir, DIR_MODE)
            synced.append(os.path.dirname(target_dir))
        elif not kind:
            skipped.append(relative)     # a file or a link where SRC has a folder: left alone
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
        for name in files:
            source = os.path.join(root, name)
            st = os.lstat(source)
            if not stat.S_ISREG(st.st_mode):
                skipped.append(os.path.normpath(os.path.join(relative, name)))
                continue
            target = os.path.join(target_dir, name)
            if os.path.lexists(target):
                present += 1
                continue
            copy_file(source, target, st)
            copied += 1
            synced.append(target)
        synced.append(target_dir)
    fsync_paths(*dict.fromkeys(synced))
    print(json.dumps({"copied": copied, "present": present, "skipped": skipped}))


def copy_file(source, target, st):
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as reader:
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(out, "wb") as writer:
            os.fchmod(out, FILE_MODE)
            for block in iter(lambda: reader.read(CHUNK), b""):
                writer.write(block)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
