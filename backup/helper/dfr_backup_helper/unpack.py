"""THE ONE SAFE UNPACKER: every archive the helper unpacks (a set's filestore tar, an Odoo zip,
a decrypted set, a base backup) goes through here, because any of them may be hostile.

- regular files and folders only: links, devices, FIFOs, sockets, pax headers are refused;
- names are relative, with no `..` component, so nothing lands outside DEST; DEST is a new
  folder (or an empty mount point), every folder in it is made here, files are created with
  O_EXCL|O_NOFOLLOW: nothing already there is followed or overwritten;
- modes are normalised (setuid, sticky, 0777 never survive) and no owner is kept;
- every byte written is counted against the REAL free space of DEST's file system (statvfs,
  re-read as it goes: others write there too), never against what the archive claims; the
  unpacking stops before less than `reserve` would be left, so the live site keeps room;
- on any refusal or error, DEST is removed entirely (a mount point: emptied) and the one-line
  reason ends with "nothing was restored".
"""
import contextlib
import errno
import os
import shutil
import stat
import zipfile
import zlib

from .process import CHUNK, Failed, human

DEFAULT_RESERVE = 64 << 20
REFRESH = 8 << 20          # re-read the real free space after this many bytes
NOTHING = "nothing was restored"


class Space:
    """A running count of the bytes written, checked against the file system's real free space."""

    def __init__(self, path, reserve, statvfs=os.statvfs):
        self.path, self.reserve, self._statvfs = path, reserve, statvfs
        self._measure()

    def _measure(self):
        st = self._statvfs(self.path)
        self.free, self.block, self.since = st.f_bavail * st.f_frsize, st.f_frsize or 4096, 0

    def take(self, nbytes):
        """About to write nbytes: refuse if that would leave less than the reserve."""
        if self.since + nbytes > REFRESH:
            self._measure()         # what was written so far is in the file system's own count now
        self.since += nbytes
        if self.free - self.since < self.reserve:
            raise Failed(f"unpacking would leave less than {human(self.reserve)} free on the file system of "
                         f"{self.path}: {NOTHING}")


def relative_name(name):
    """An archive member's name as a safe path relative to DEST ('' is DEST itself)."""
    if "\0" in name or name.startswith("/"):
        raise Failed(f"unsafe path in the archive (absolute): {name!r}: {NOTHING}")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise Failed(f"unsafe path in the archive (`..`): {name!r}: {NOTHING}")
    return "/".join(parts)


class Writer:
    """Creates folders and files under DEST, and only there."""

    def __init__(self, dest, file_mode, dir_mode, space):
        self.dest, self.file_mode, self.dir_mode, self.space = dest, file_mode, dir_mode, space
        self.dirs, self.written, self.linked = [dest], [], 0
        self.can_splice = hasattr(os, "splice")
        self._made = {""}

    def _folder(self, relative):
        """Make the folder `relative` (and its parents) unless this writer already made it."""
        if relative in self._made:
            return
        parent = relative.rpartition("/")[0]
        self._folder(parent)
        target = os.path.join(self.dest, relative)
        self.space.take(self.space.block)
        os.mkdir(target, self.dir_mode)     # FileExistsError: a file of that name came first
        os.chmod(target, self.dir_mode)     # mkdir's mode went through the umask
        self._made.add(relative)
        self.dirs.append(target)

    def directory(self, name):
        relative = relative_name(name)
        if relative:
            self._folder(relative)
        return os.path.join(self.dest, relative)

    def create(self, name):
        """A new regular file for member `name`: (relative name, target path, open file)."""
        relative = relative_name(name)
        if not relative:
            raise Failed(f"unsafe path in the archive (a file named {name!r}): {NOTHING}")
        self._folder(relative.rpartition("/")[0])
        target = os.path.join(self.dest, relative)
        self.space.take(self.space.block)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, self.file_mode)
        except FileExistsError:
            raise Failed(f"the archive holds {name!r} twice: {NOTHING}") from None
        os.fchmod(fd, self.file_mode)
        return relative, target, os.fdopen(fd, "wb")

    def write(self, handle, view):
        self.space.take(len(view))
        handle.write(view)

    def splice(self, handle, fd, left):
        """Up to `left` bytes from the pipe `fd` into `handle` inside the kernel (a pipe holds at
        most a megabyte, so this is called once per pipeful); counted against the free space
        before they move, as write() does. Returns how many moved (0: EOF), or None when the
        file system cannot splice (then the bytes go through write())."""
        self.space.take(left)
        try:
            moved = os.splice(fd, handle.fileno(), left)
        except OSError as error:
            if error.errno not in (errno.EINVAL, errno.ENOSYS):
                raise
            moved, self.can_splice = None, False
        self.space.since -= left - (moved or 0)     # only what moved stays counted
        return moved

    def done(self, handle, target, mtime=None):
        handle.close()
        if mtime is not None:
            os.utime(target, (mtime, mtime))
        self.written.append(target)


@contextlib.contextmanager
def unpacking(dest, file_mode, dir_mode, reserve=DEFAULT_RESERVE, reuse_empty=False, statvfs=os.statvfs):
    """A Writer into the new folder DEST (or the empty mount point DEST with reuse_empty);
    on any failure DEST is removed (emptied) and the error is one line ending with NOTHING."""
    created = not os.path.lexists(dest)
    if created:
        os.mkdir(dest, dir_mode)
    elif not (reuse_empty and os.path.isdir(dest) and not os.path.islink(dest) and not os.listdir(dest)):
        raise Failed(f"{dest} already exists: {NOTHING}")
    try:
        os.chmod(dest, dir_mode)
        yield Writer(dest, file_mode, dir_mode, Space(dest, reserve, statvfs))
    except BaseException as error:
        remove_all(dest, created)
        if isinstance(error, Failed):
            raise
        if isinstance(error, OSError):
            reason = "the file system is full" if error.errno == 28 else (error.strerror or str(error))
            raise Failed(f"unpacking into {dest}: {reason}: {NOTHING}") from None
        if isinstance(error, (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)):
            raise Failed(f"the zip archive is damaged or unsupported ({error}): {NOTHING}") from None
        raise


def open_regular_inside(root, relative):
    """The regular file root/relative opened for reading, or None: not there, not a regular
    file, or reached through a symlink (a live folder may hold links planted to point anywhere)."""
    folder = os.path.dirname(relative)
    if os.path.realpath(os.path.join(root, folder)) != os.path.normpath(os.path.join(os.path.realpath(root), folder)):
        return None
    try:
        fd = os.open(os.path.join(root, relative), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def link_inside(source, handle, target):
    """Hard-link the file `handle` (opened from source) at target, or Failed if source is no
    longer that very file (replaced in between: the link would be to something else)."""
    os.link(source, target, follow_symlinks=False)
    made, opened = os.lstat(target), os.fstat(handle.fileno())
    if (made.st_ino, made.st_dev) != (opened.st_ino, opened.st_dev):
        os.unlink(target)
        raise Failed(f"{source} was replaced while being read: {NOTHING}")


def remove_all(dest, created):
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for entry in os.scandir(dest):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def unpack_zip(path, writer, prefix):
    """The members under `prefix` of a zip (Odoo's: filestore/...) into a Writer."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.startswith(prefix):
                continue
            name = info.filename[len(prefix):]
            kind = stat.S_IFMT(info.external_attr >> 16)
            if info.is_dir():
                writer.directory(name)
                continue
            if kind and kind != stat.S_IFREG:
                raise Failed(f"the zip holds a link or special file ({info.filename!r}); only files and folders "
                             f"are unpacked: {NOTHING}")
            if info.flag_bits & 0x1:
                raise Failed(f"the zip member {info.filename!r} is encrypted: {NOTHING}")
            _, target, handle = writer.create(name)
            with archive.open(info) as source:
                for block in iter(lambda: source.read(CHUNK), b""):
                    writer.write(handle, block)
            writer.done(handle, target)
