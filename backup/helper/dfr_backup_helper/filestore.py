"""The filestore: archived into a set (SHA-1 of every file on the way), restored through the
safe unpacker, checked against the attachment rows, or linked from the live filestore."""
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

from .durable import fsync_paths
from .process import CHUNK, Failed, describe, first_line
from .query import attachment_rows
from .tarstream import TarDigests
from .toc import dump_attachments
from .unpack import link_inside, open_regular_inside, relative_name, unpacking, unpack_zip
from .unpack_tar import unpack_tar_file

FILE_MODE, DIR_MODE = 0o644, 0o755      # what Odoo itself writes in its filestore


def cmd_filestore(args):
    """The filestore as one zstd-compressed tar (members `xx/sha1`).

    Every member is SHA-1'd on its way into zstd (tar | this process | zstd). With
    --check-dump, every attachment the dump references must be among them with its checksum:
    the check reads nothing twice, and the dump's attachment list is read while tar runs.
    """
    src = args.src
    if not os.path.isdir(src):
        src = tempfile.mkdtemp()  # no attachment written yet: an empty archive
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        expected = pool.submit(dump_attachments, args.check_dump, args.scratch) if args.check_dump else None
        with tempfile.TemporaryFile() as errors, open(args.out, "xb") as out:
            tar = subprocess.Popen(["tar", "--numeric-owner", "-C", src, "-cf", "-", "."],
                                   stdout=subprocess.PIPE, stderr=errors)
            zstd = subprocess.Popen(["zstd", "-q", f"-{args.level}", f"-T{args.threads}", "-c"],
                                    stdin=subprocess.PIPE, stdout=out)
            digests = TarDigests()
            hashing = concurrent.futures.ThreadPoolExecutor(max_workers=1)
            pending = None
            try:
                for chunk in iter(lambda: tar.stdout.read(4 * CHUNK), b""):
                    if pending is not None:
                        pending.result()
                    pending = hashing.submit(digests.feed, chunk)   # hashed while the next write runs
                    zstd.stdin.write(chunk)
                if pending is not None:
                    pending.result()
                zstd.stdin.close()
            except (BrokenPipeError, Failed) as error:
                tar.kill()
                zstd.kill()
                tar.wait()
                zstd.wait()
                raise error if isinstance(error, Failed) else Failed(f"archiving the filestore: zstd stopped ({error})")
            finally:
                hashing.shutdown(wait=True)
            code_tar, code_zstd = tar.wait(), zstd.wait()
            said = first_line(errors)
        if code_tar != 0:
            raise Failed(f"archiving the filestore: tar: {said or describe(code_tar)}")
        if code_zstd != 0:
            raise Failed(f"archiving the filestore: zstd {describe(code_zstd)}")
        report = {"files": len(digests.digests), "bytes": digests.bytes}
        digests = digests.digests
        if expected is not None:
            wanted = expected.result()
            if wanted is None:
                report.update(odoo=False, checked=0, missing=[], mismatched=[])
            else:
                report.update(odoo=True, checked=len(wanted),
                              missing=sorted(n for n in wanted if n not in digests),
                              mismatched=sorted(n for n, sha in wanted.items()
                                                if n in digests and sha and digests[n] != sha))
    print(json.dumps(report))


def cmd_restore_filestore(args):
    """A set's filestore.tar.zst or an Odoo zip's filestore/ into a new folder, through the safe
    unpacker; from a tar, files the live filestore (--link-from) holds with the same bytes are
    hard-linked instead of written."""
    began = time.monotonic()
    # A volume Odoo never wrote an attachment to has no filestore/ folder yet (Odoo makes it on
    # the first one): the folder of all filestores is made as Odoo makes it, the new one in it.
    parent = os.path.dirname(args.dest.rstrip("/"))
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, DIR_MODE, exist_ok=True)
    with unpacking(args.dest, FILE_MODE, DIR_MODE, args.reserve_bytes) as writer:
        if args.archive.endswith(".zip"):
            unpack_zip(args.archive, writer, "filestore/")
        else:
            link_from = args.link_from if args.link_from and os.path.isdir(args.link_from) else None
            unpack_tar_file(args.archive, writer, "unpacking the filestore", link_from)
        unpacked = time.monotonic()
        fsync_paths(*writer.written, *writer.dirs)   # what was written, and every folder's entries
    files = writer.linked + len(writer.written)
    print(json.dumps({"files": files, "linked": writer.linked, "written": len(writer.written),
                      "unpack_seconds": round(unpacked - began, 1),
                      "fsync_seconds": round(time.monotonic() - unpacked, 1)}))


def safe_or_none(name):
    try:
        return relative_name(name) or None
    except Failed:
        return None


def attachment_lines(args):
    """The "store_fname<TAB>sha1" lines to check: database --db's rows (None when it has no
    attachment table), else stdin's."""
    if args.db:
        return attachment_rows(args.db)
    return [line.rstrip("\n") for line in sys.stdin]


def cmd_check_files(args):
    """Which of the attachments' files are missing under a filestore folder (a name that would
    point outside it counts as missing)."""
    lines = attachment_lines(args)
    missing, checked = [], 0
    for name in (line.partition("\t")[0].strip() for line in lines or []):
        relative = safe_or_none(name) if name else ""
        checked += bool(name)
        if name and (relative is None or not os.path.isfile(os.path.join(args.root, relative))):
            missing.append(name)
    print(json.dumps({"missing": missing, "checked": checked, "relation": lines is not None}))


def sha1_of(handle):
    digest = hashlib.sha1()
    for block in iter(lambda: handle.read(CHUNK), b""):
        digest.update(block)
    return digest.hexdigest()


def cmd_link_files(args):
    """A filestore folder for a database restored from a dump that has none: every attachment
    (stdin: "store_fname<TAB>checksum" lines, or --db's rows) hard-linked from the live filestore when the file
    there has exactly that SHA-1 (Odoo's filestore is content-addressed, so the same name is
    the same content unless it was damaged - which the SHA-1 tells)."""
    lines = attachment_lines(args)
    if lines is None:     # --db has no attachment table: nothing to link, no folder made
        print(json.dumps({"linked": 0, "missing": [], "mismatched": [], "relation": False}))
        return
    if os.path.lexists(args.dest):
        raise Failed(f"{args.dest} already exists")
    os.makedirs(os.path.dirname(args.dest.rstrip("/")) or ".", DIR_MODE, exist_ok=True)
    os.mkdir(args.dest, DIR_MODE)
    os.chmod(args.dest, DIR_MODE)
    linked, missing, mismatched, dirs, seen = 0, [], [], {args.dest}, set()
    for line in lines:
        name, _, checksum = line.partition("\t")
        if not name or name in seen:
            continue   # several attachments share a file
        seen.add(name)
        relative = safe_or_none(name)
        handle = open_regular_inside(args.source, relative) if relative else None
        if handle is None:
            missing.append(name)   # not there, or outside any filestore: never there
            continue
        with handle:
            if checksum and sha1_of(handle) != checksum:
                mismatched.append(name)
                continue
            folder = os.path.join(args.dest, os.path.dirname(relative))
            if folder not in dirs:
                os.makedirs(folder, exist_ok=True)
                os.chmod(folder, DIR_MODE)
                dirs.add(folder)
            link_inside(os.path.join(args.source, relative), handle, os.path.join(args.dest, relative))
        linked += 1
    fsync_paths(*sorted(dirs))
    print(json.dumps({"linked": linked, "missing": missing, "mismatched": mismatched}))


def cmd_verify_files(args):
    """Every attachment is in the filestore folder with exactly its SHA-1: the names missing and
    those whose bytes differ (a restore drill's proof)."""
    missing, mismatched, checked, seen = [], [], 0, set()
    for line in attachment_lines(args) or []:
        name, _, checksum = line.partition("\t")
        if not name or name in seen:
            continue
        seen.add(name)
        relative = safe_or_none(name)
        handle = open_regular_inside(args.root, relative) if relative else None
        if handle is None:
            missing.append(name)
            continue
        with handle:
            if checksum and sha1_of(handle) != checksum:
                mismatched.append(name)
        checked += 1
    print(json.dumps({"checked": checked, "missing": missing, "mismatched": mismatched}))
