"""export-zip: Odoo's zip from a set: dump.sql (plain, no owner) first, then filestore/, then
manifest.json; CRC-checked, fsynced and renamed into place."""
import json
import os
import shutil
import tempfile
import zipfile

from .durable import fsync_paths
from .process import Failed, Reader, run
from .tarstream import DIRECTORY, REGULAR, TarStream, kind_name
from .toc import unpack_dump
from .unpack import relative_name


class TarToZip(TarStream):
    """The regular members of a tar stream as filestore/<name> members of a zip."""

    def __init__(self, archive):
        super().__init__()
        self.archive, self._out = archive, None

    def begin(self, name, kind, size, header):
        if kind == DIRECTORY:
            return
        if kind not in REGULAR:
            raise Failed(f"the filestore archive holds a {kind_name(kind)} ({name!r}): not one of this tool's sets")
        self._out = self.archive.open("filestore/" + relative_name(name), "w", force_zip64=True)

    def data(self, view):
        self._out.write(view)

    def end(self):
        if self._out is not None:
            self._out.close()
            self._out = None


def cmd_export_zip(args):
    scratch = tempfile.mkdtemp(dir=args.scratch, prefix=".tmp-export-")
    part = args.out + ".part"
    try:
        unpack_dump(args.dump, scratch)
        sql = os.path.join(scratch, "dump.sql")
        run(["pg_restore", "--no-owner", "-f", sql, scratch])
        with zipfile.ZipFile(part, "x", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            archive.write(sql, "dump.sql")
            reader, tar = Reader(["zstd", "-dcq", args.filestore]), TarToZip(archive)
            try:
                for chunk in reader.chunks():
                    tar.feed(chunk)
            except BaseException:
                reader.kill()
                raise
            reader.check("reading the filestore archive")
            if not tar.complete:
                raise Failed("reading the filestore archive: it ends before its end-of-archive marker (truncated)")
            archive.writestr("manifest.json", args.manifest_json)
        with zipfile.ZipFile(part) as check:
            bad = check.testzip()
            if bad:
                raise Failed(f"the zip just written fails its CRC check at {bad}")
        os.chmod(part, 0o600)
        fsync_paths(part)
        os.rename(part, args.out)
        fsync_paths(os.path.dirname(os.path.abspath(args.out)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if os.path.exists(part):
            os.unlink(part)
    print(json.dumps({"zip": args.out, "bytes": os.path.getsize(args.out)}))
