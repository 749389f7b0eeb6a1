"""The command line: one subcommand per step (backup/README.md lists them by module), each option
explained; one JSON object on stdout on success, one `dfr-backup-helper: ...` line otherwise."""
import argparse
import os
import sys

from . import __doc__ as PACKAGE_DOC
from . import basebackup, crypto, dump, export, files, filestore, loader, offsite, query, sqlload, wal
from .process import Failed
from .unpack import DEFAULT_RESERVE

RESERVE_HELP = f"bytes to keep free on DEST's file system while unpacking (default {DEFAULT_RESERVE})"


def subcommands(sub):
    """(name, function, help, [(flags, options)])"""
    jobs = (["--jobs"], dict(type=int, default=2, help="parallel jobs"))
    dbname = (["dbname"], dict(help="database to connect to (libpq's PG* variables say where and as whom)"))
    reserve = (["--reserve-bytes"], dict(type=int, default=DEFAULT_RESERVE, help=RESERVE_HELP))
    attachments_db = (["--db"], dict(help="read the attachments from this database as the PG* role, not stdin"))
    level = (["--level"], dict(type=int, default=3, help="zstd compression level"))
    return [
        ("dump", dump.cmd_dump, "pg_dump -Fd, data files zstd'ed, rows counted", [
            (["--out"], dict(required=True, help="the dump folder to create (must not exist)")), jobs, level, dbname]),
        ("filestore", filestore.cmd_filestore, "archive a filestore folder into a .tar.zst, SHA-1 of every file", [
            (["--src"], dict(required=True, help="filestore folder of the database (missing: an empty archive)")),
            (["--out"], dict(required=True, help="the .tar.zst to create")), level,
            (["--threads"], dict(type=int, default=0, help="zstd threads (0: one per core)")),
            (["--check-dump"], dict(help="directory dump whose attachments must be in the archive with their SHA-1")),
            (["--scratch"], dict(default="/tmp", help="folder for reading the dump's attachment rows"))]),
        ("restore-db", loader.cmd_restore_db, "a set's directory dump into a database, in three passes", [
            (["--dump"], dict(required=True, help="the set's db/ folder")),
            (["--scratch"], dict(required=True, help="a folder to create for the table of contents (removed after)")),
            jobs, dbname]),
        ("restore-custom", sqlload.cmd_restore_custom, "a pg_dump custom-format file through pg_restore", [
            (["--file"], dict(required=True, help="the custom-format dump")), jobs, dbname]),
        ("restore-sql", sqlload.cmd_restore_sql, "a plain SQL dump through the SQL guard into psql", [
            (["--file"], dict(required=True, help="the SQL file, or the zip holding it")),
            (["--zip-member"], dict(help="the member of the zip --file to load (Odoo's dump.sql)")), dbname]),
        ("restore-filestore", filestore.cmd_restore_filestore, "a filestore archive (.tar.zst or Odoo .zip) "
         "into a new folder through the safe unpacker", [
            (["--archive"], dict(required=True, help="filestore.tar.zst of a set, or an Odoo zip (filestore/...)")),
            (["--dest"], dict(required=True, help="the folder to create (must not exist)")),
            (["--link-from"], dict(help="live filestore folder: identical files are hard-linked, not written")),
            reserve]),
        ("export-zip", export.cmd_export_zip, "Odoo's zip (dump.sql, filestore/, manifest.json) from a set", [
            (["--dump"], dict(required=True, help="the set's db/ folder")),
            (["--filestore"], dict(required=True, help="the set's filestore.tar.zst")),
            (["--manifest-json"], dict(required=True, help="text of the zip's manifest.json")),
            (["--out"], dict(required=True, help="the zip to write (renamed into place once checked)")),
            (["--scratch"], dict(required=True, help="folder for the plain dump.sql while writing"))]),
        ("check-files", filestore.cmd_check_files, "which attachments' files (stdin: one store_fname a line, "
         "or --db) are missing", [
            (["--root"], dict(required=True, help="the filestore folder of the database")), attachments_db]),
        ("link-files", filestore.cmd_link_files, "hard-link attachment files (stdin: name<TAB>sha1, or --db) "
         "from a live filestore into a new folder", [
            (["--source"], dict(required=True, help="the live filestore folder")),
            (["--dest"], dict(required=True, help="the folder to create (must not exist)")), attachments_db]),
        ("merge-files", files.cmd_merge_files, "copy the regular files DEST lacks from SRC (never overwrite)", [
            (["--src"], dict(required=True, help="folder to copy from")),
            (["--dest"], dict(required=True, help="folder to complete"))]),
        ("move", files.cmd_move, "rename folders pair by pair, never over an existing one", [
            (["paths"], dict(nargs="+", metavar="SRC DST", help="source and destination, pair by pair")),
            (["--missing-ok"], dict(action="store_true", help="skip a missing source instead of failing"))]),
        ("remove", files.cmd_remove, "rm -rf, only under the given roots", [
            (["--root"], dict(action="append", required=True, help="a folder under which removing is allowed")),
            (["paths"], dict(nargs="+", help="files or folders to remove"))]),
        ("sync", files.cmd_sync, "fsync every file and folder under PATH", [
            (["path"], dict(help="folder to fsync"))]),
        ("df", files.cmd_df, "free bytes of each path's file system", [
            (["paths"], dict(nargs="+", help="paths whose file systems to measure"))]),
        ("is-dir", files.cmd_is_dir, "is PATH a folder (symlinks are not followed)", [
            (["path"], dict(help="the path to test"))]),
        ("encrypt", crypto.cmd_encrypt, "tar of a folder encrypted with age", [
            (["--src"], dict(required=True, help="folder to encrypt")),
            (["--out"], dict(required=True, help="the .age file to write")),
            (["--recipient"], dict(action="append", default=[], help="an age public key (repeatable)")),
            (["--recipients-file"], dict(action="append", default=[], help="a file of age recipients (repeatable)"))]),
        ("decrypt", crypto.cmd_decrypt, "age -d into a new folder through the safe unpacker", [
            (["--file"], dict(required=True, help="the .age file")),
            (["--identity"], dict(required=True, help="the age identity (private key) file")),
            (["--dest"], dict(required=True, help="the folder to create (must not exist)")), reserve]),
        ("wal-list", wal.cmd_wal_list, "the regular files of the WAL archive: [name, size, mtime]", [
            (["--archive"], dict(required=True, help="the WAL archive folder"))]),
        ("basebackup", basebackup.cmd_basebackup, "pg_basebackup (tar, WAL streamed, client-side zstd)", [
            (["--out"], dict(required=True, help="the folder pg_basebackup writes (new or empty)")), level,
            (["--jobs"], dict(type=int, default=1, help="zstd workers")),
            (["--label"], dict(required=True, help="the backup's label"))]),
        ("unpack-basebackup", basebackup.cmd_unpack_basebackup, "a base backup into a data folder through the "
         "safe unpacker", [
            (["--src"], dict(required=True, help="the set's basebackup/ folder")),
            (["--dest"], dict(required=True, help="the data folder: new, or an empty mount point")),
            (["--recovery-signal"], dict(action="store_true", help="also write an empty recovery.signal")),
            reserve]),
        ("verify-files", filestore.cmd_verify_files, "every attachment (stdin: name<TAB>sha1, or --db) in a "
         "filestore folder with its SHA-1", [
            (["--root"], dict(required=True, help="the filestore folder of the database")), attachments_db]),
        ("query", query.cmd_query, "SQL (stdin, from the host's own code) as the PG* role; tuples as JSON", [
            (["--db"], dict(help="database (default: libpq's)")),
            (["--var"], dict(action="append", default=[], help="a psql variable NAME=VALUE (repeatable)")),
            (["--if-relation"], dict(help="run the query only if this table or view exists (else no rows): "
                                          "one container for a look at an optional table"))]),
        ("offsite-copy", offsite.cmd_offsite_copy, "rclone copy, then rclone check --one-way", [
            (["--source"], dict(required=True, help="the set folder to copy")),
            (["--dest"], dict(required=True, help="rclone destination (remote:path or a local path)")),
            (["--config"], dict(help="rclone's config file")),
            (["--exclude"], dict(action="append", default=[], help="a file name not to copy (repeatable)"))]),
    ]


def parser():
    top = argparse.ArgumentParser(prog="dfr-backup-helper", description=PACKAGE_DOC.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for name, function, summary, options in subcommands(sub):
        command = sub.add_parser(name, help=summary, description=summary)
        command.set_defaults(func=function)
        for flags, settings in options:
            command.add_argument(*flags, **settings)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    os.umask(0o077)
    try:
        args.func(args)
    except Failed as error:
        sys.exit(f"dfr-backup-helper: {error}")
    except OSError as error:
        sys.exit(f"dfr-backup-helper: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        sys.exit("dfr-backup-helper: interrupted")
