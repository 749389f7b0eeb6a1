"""age: a whole set encrypted to its recipients (public keys, fine on argv), and decrypted
through the safe unpacker into a new folder."""
import json
import os

from .durable import fsync_paths
from .process import Reader, pipeline
from .unpack import unpacking
from .unpack_tar import TarUnpack, unpack_tar_stream


def cmd_encrypt(args):
    """tar of a folder | age -r ... -o FILE (0600: the umask)."""
    command = ["age", "--encrypt"]
    for recipient in args.recipient:
        command += ["-r", recipient]
    for path in args.recipients_file:
        command += ["-R", path]
    pipeline(["tar", "--numeric-owner", "-C", args.src, "-cf", "-", "."], command + ["-o", args.out],
             "encrypting the set")
    os.chmod(args.out, 0o600)
    fsync_paths(args.out, os.path.dirname(os.path.abspath(args.out)))
    print(json.dumps({"encrypted": args.out}))


def cmd_decrypt(args):
    """age -d -i IDENTITY FILE | the safe unpacker into a new folder (files 0600, folders 0700)."""
    with unpacking(args.dest, 0o600, 0o700, args.reserve_bytes) as writer:
        tar = TarUnpack(writer)
        unpack_tar_stream(Reader(["age", "--decrypt", "-i", args.identity, args.file]), tar, "decrypting the set")
        fsync_paths(*writer.written, *writer.dirs)
    print(json.dumps({"decrypted": args.dest, "files": len(writer.written)}))
