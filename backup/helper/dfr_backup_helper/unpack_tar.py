"""Tar streams through the safe unpacker (unpack.Writer), optionally hard-linking the files a
live filestore already holds with the same bytes."""
import os

from .process import CHUNK, Failed, Reader
from .tarstream import DIRECTORY, REGULAR, TarStream, kind_name, number
from .unpack import NOTHING, link_inside, open_regular_inside, relative_name


class TarUnpack(TarStream):
    """A tar stream into a Writer; with `link_from` (a live filestore), every file that folder
    already holds with exactly the archived bytes is hard-linked instead of written.

    Odoo's filestore is content-addressed (a file's name is the SHA-1 of its content) and never
    rewrites a file in place, so restoring an environment's own backup mostly finds every file
    already there: each is compared byte for byte with the archive as the stream goes by and
    hard-linked if equal (no second copy on disk, nothing to write or fsync). A file that
    differs at all (bit rot, a truncated copy) is written from the archive instead.
    """

    def __init__(self, writer, link_from=None, keep_mtime=True, prefix=""):
        super().__init__()
        self.writer, self.link_from, self.keep_mtime, self.prefix = writer, link_from, keep_mtime, prefix
        self._reset()

    def _reset(self):
        self._name = self._target = self._out = self._candidate = None

    def begin(self, name, kind, size, header):
        self._reset()
        relative_name(name)                  # refused as it is, before any prefix
        name = self.prefix + name
        if kind == DIRECTORY:
            self.writer.directory(name)
            return
        if kind not in REGULAR:
            raise Failed(f"the archive holds a {kind_name(kind)} ({name!r}); only files and folders are "
                         f"unpacked: {NOTHING}")
        self._name, self._size = name, size
        self._mtime = number(header[136:148]) if self.keep_mtime else None
        relative = relative_name(name)
        self._candidate = self._live_copy(relative, size) if self.link_from and relative else None
        self._offset = 0
        if self._candidate is None:
            self._relative, self._target, self._out = self.writer.create(name)
        else:
            self._relative = relative

    def _live_copy(self, relative, size):
        """The live file of that name, opened, if it is a regular file of the same size."""
        handle = open_regular_inside(self.link_from, relative)
        if handle is not None and os.fstat(handle.fileno()).st_size != size:
            handle.close()
            handle = None
        return handle

    def _switch_to_writing(self):
        """The live copy differs: write the archived bytes (the equal start comes from it)."""
        self._relative, self._target, self._out = self.writer.create(self._name)
        self._candidate.seek(0)
        left = self._offset
        while left:
            block = self._candidate.read(min(CHUNK, left))
            if not block:
                raise Failed(f"the live file {self._relative} shrank while being compared: {NOTHING}")
            self.writer.write(self._out, block)
            left -= len(block)
        self._candidate.close()
        self._candidate = None

    def data(self, view):
        if self._candidate is not None:
            # bytes == bytes is one memcmp; comparing with the memoryview itself goes byte by byte
            if self._candidate.read(len(view)) == view.tobytes():
                self._offset += len(view)
                return
            self._switch_to_writing()
        if self._out is not None:
            self.writer.write(self._out, view)

    def splice(self, fd, left):
        if self._out is None or self._candidate is not None or not self.writer.can_splice:
            return None             # comparing with a live copy needs the bytes
        return self.writer.splice(self._out, fd, min(left, CHUNK))

    def end(self):
        if self._candidate is not None:
            if self._candidate.read(1) == b"":
                self._link()
                return
            self._switch_to_writing()   # grew since its size was read: take the archive's copy
        if self._out is not None:
            self.writer.done(self._out, self._target, self._mtime)
        self._reset()

    def _link(self):
        self.writer._folder(self._relative.rpartition("/")[0])
        self.writer.space.take(self.writer.space.block)
        try:
            link_inside(os.path.join(self.link_from, self._relative), self._candidate,
                        os.path.join(self.writer.dest, self._relative))
        except FileExistsError:
            raise Failed(f"the archive holds {self._name!r} twice: {NOTHING}") from None
        finally:
            self._candidate.close()
        self.writer.linked += 1
        self._reset()


def unpack_tar_stream(reader, tar, what):
    """A child's stdout (zstd -dc, age -d) into a TarUnpack; the child's failure is the cause."""
    try:
        tar.pump(reader.stdout.fileno())
    except BaseException:
        reader.kill()
        raise
    reader.check(what)
    if not tar.complete:
        raise Failed(f"{what}: the archive ends before its end-of-archive marker (truncated): {NOTHING}")


def unpack_tar_file(path, writer, what, link_from=None, keep_mtime=True, prefix=""):
    """A .tar.zst, .tar.gz or plain .tar file into a Writer."""
    if path.endswith(".zst"):
        command = ["zstd", "-dcq", path]
    elif path.endswith(".gz"):
        command = ["gzip", "-dc", path]
    else:
        command = ["cat", path]
    tar = TarUnpack(writer, link_from, keep_mtime, prefix)
    unpack_tar_stream(Reader(command), tar, what)
    return tar
