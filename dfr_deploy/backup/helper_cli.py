"""The command lines of dfr-backup-helper (the backup image's step runner), built in one place.

Nothing here runs anything: each function returns the argv of one subcommand, so the host side
is tested by comparing command lines, and a change of the helper's interface shows up here.
"""
HELPER = "dfr-backup-helper"


def _opt(flag, value):
    return [flag, str(value)] if value is not None else []


def dump(out, jobs, level, db):
    return [HELPER, "dump", "--out", out, "--jobs", str(jobs), "--level", str(level), db]


def filestore(src, out, level, threads, check_dump=None, scratch=None):
    return [HELPER, "filestore", "--src", src, "--out", out, "--level", str(level), "--threads", str(threads),
            *_opt("--check-dump", check_dump), *_opt("--scratch", scratch)]


def restore_db(dump_dir, scratch, jobs, db):
    return [HELPER, "restore-db", "--dump", dump_dir, "--scratch", scratch, "--jobs", str(jobs), db]


def restore_custom(file, jobs, db):
    return [HELPER, "restore-custom", "--file", file, "--jobs", str(jobs), db]


def restore_sql(file, db, zip_member=None):
    return [HELPER, "restore-sql", "--file", file, *_opt("--zip-member", zip_member), db]


def restore_filestore(archive, dest, link_from=None, reserve_bytes=None):
    return [HELPER, "restore-filestore", "--archive", archive, "--dest", dest, *_opt("--link-from", link_from),
            *_opt("--reserve-bytes", reserve_bytes)]


def export_zip(dump_dir, filestore_archive, manifest_json, out, scratch):
    return [HELPER, "export-zip", "--dump", dump_dir, "--filestore", filestore_archive,
            "--manifest-json", manifest_json, "--out", out, "--scratch", scratch]


def check_files(root, db=None):
    """Names on stdin, or (db) the attachment rows of that database read as the step's role."""
    return [HELPER, "check-files", "--root", root, *_opt("--db", db)]


def verify_files(root, db=None):
    return [HELPER, "verify-files", "--root", root, *_opt("--db", db)]


def link_files(source, dest, db=None):
    return [HELPER, "link-files", "--source", source, "--dest", dest, *_opt("--db", db)]


def move(pairs, missing_ok=True):
    return [HELPER, "move", *(["--missing-ok"] if missing_ok else []), *[p for pair in pairs for p in pair]]


def remove(roots, paths):
    return [HELPER, "remove", *[a for root in roots for a in ("--root", root)], *paths]


def df(paths):
    return [HELPER, "df", *paths]


def encrypt(src, out, recipients=(), recipient_files=()):
    return [HELPER, "encrypt", "--src", src, "--out", out, *[a for r in recipients for a in ("--recipient", r)],
            *[a for f in recipient_files for a in ("--recipients-file", f)]]


def decrypt(file, identity, dest, reserve_bytes=None):
    return [HELPER, "decrypt", "--file", file, "--identity", identity, "--dest", dest,
            *_opt("--reserve-bytes", reserve_bytes)]


def is_dir(path):
    return [HELPER, "is-dir", path]


def merge_files(src, dest):
    return [HELPER, "merge-files", "--src", src, "--dest", dest]


def wal_list(archive):
    return [HELPER, "wal-list", "--archive", archive]


def basebackup(out, level, jobs, label):
    return [HELPER, "basebackup", "--out", out, "--level", str(level), "--jobs", str(jobs), "--label", label]


def unpack_basebackup(src, dest, recovery_signal=False, reserve_bytes=None):
    return [HELPER, "unpack-basebackup", "--src", src, "--dest", dest,
            *(["--recovery-signal"] if recovery_signal else []), *_opt("--reserve-bytes", reserve_bytes)]


def offsite_copy(source, dest, config=None, exclude=()):
    return [HELPER, "offsite-copy", "--source", source, "--dest", dest, *_opt("--config", config),
            *[a for name in exclude for a in ("--exclude", name)]]


def query(db=None, variables=None, if_relation=None):
    return [HELPER, "query", *_opt("--db", db), *_opt("--if-relation", if_relation),
            *[a for key, value in (variables or {}).items() for a in ("--var", f"{key}={value}")]]
