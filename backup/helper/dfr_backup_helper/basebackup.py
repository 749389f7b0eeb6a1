"""A physical base backup (pg_basebackup, tar format, WAL streamed) and its unpacking through
the safe unpacker into a data folder (a throwaway volume to verify it, or a new volume)."""
import json
import os
import time

from .process import Failed, run
from .unpack import unpacking
from .unpack_tar import unpack_tar_file

FILE_MODE, DIR_MODE = 0o600, 0o700      # what PostgreSQL requires of a data folder


def cmd_basebackup(args):
    """pg_basebackup, its base.tar compressed by zstd on the client side with parallel workers;
    PostgreSQL 15 leaves the streamed WAL plain, so pg_wal.tar is compressed after."""
    began = time.monotonic()
    compress = f"client-zstd:level={args.level}" + (f",workers={args.jobs}" if args.jobs > 1 else "")
    run(["pg_basebackup", f"--pgdata={args.out}", "--format=tar", "--wal-method=stream", f"--compress={compress}",
         "--checkpoint=fast", f"--label={args.label}", "--no-password", "--manifest-checksums=CRC32C"])
    backed_up = time.monotonic()
    wal = os.path.join(args.out, "pg_wal.tar")
    if os.path.exists(wal):
        run(["zstd", "-q", "--rm", f"-{args.level}", f"-T{args.jobs}", wal, "-o", wal + ".zst"])
    print(json.dumps({"pg_basebackup_seconds": round(backed_up - began, 1),
                      "zstd_wal_seconds": round(time.monotonic() - backed_up, 1)}))


def cmd_unpack_basebackup(args):
    """base.tar.zst into DEST, the WAL (pg_wal.tar.zst, or a legacy plain pg_wal.tar) into
    DEST/pg_wal, backup_manifest beside them; files 0600, folders 0700 (DEST too). The files
    stay this user's: the postgres entrypoint gives PGDATA to postgres when the server starts."""
    src = args.src
    base = os.path.join(src, "base.tar.zst")
    if not os.path.isfile(base):
        raise Failed(f"{src} has no base.tar.zst: not a base backup of this tool")
    with unpacking(args.dest, FILE_MODE, DIR_MODE, args.reserve_bytes, reuse_empty=True) as writer:
        unpack_tar_file(base, writer, "unpacking the base backup")
        writer.directory("pg_wal")
        for name in ("pg_wal.tar.zst", "pg_wal.tar"):
            if os.path.isfile(os.path.join(src, name)):
                unpack_tar_file(os.path.join(src, name), writer, "unpacking the streamed WAL", prefix="pg_wal/")
                break
        _, target, handle = writer.create("backup_manifest")
        with open(os.path.join(src, "backup_manifest"), "rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                writer.write(handle, block)
        writer.done(handle, target)
        if args.recovery_signal:
            _, target, handle = writer.create("recovery.signal")
            writer.done(handle, target)
        # No fsync here: the folder is either pg_verifybackup's throwaway copy, or a recovery's,
        # where PostgreSQL syncs the whole data folder itself before it replays anything (a base
        # backup's pg_control says "in production": SyncDataDirectory at start). Syncing here
        # too cost seconds a gigabyte, once in every base backup and once in every recovery.
    print(json.dumps({"files": len(writer.written), "dest": args.dest}))


