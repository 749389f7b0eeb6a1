"""What a file given to `invoke restore` is, and whether it is whole, before anything changes.

Accepted: a set folder of this tool (plain or age-encrypted), Odoo's own zip (database manager
or `odoo db dump`: dump.sql + filestore/ + manifest.json), a pg_dump custom-format file, a
pg_dump directory, and a plain SQL dump. Anything else is refused with one line.
"""
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import DfrError
from . import manifest

ZIP_MAGIC = b"PK\x03\x04"
CUSTOM_MAGIC = b"PGDMP"
AGE_MAGIC = b"age-encryption.org/v1"
SQL_HEADER = "-- PostgreSQL database dump"
SQL_FOOTER = "-- PostgreSQL database dump complete"
ODOO_KEYS = ("db_name", "version", "major_version", "pg_version")


@dataclass
class Source:
    kind: str                 # set | encrypted-set | odoo-zip | pg-custom | pg-directory | pg-sql
    path: Path
    manifest: dict = None     # ours, or Odoo's for a zip
    pg_version: str = ""      # of the server that made the dump, when known
    major_version: str = ""   # Odoo's, when known
    checked: bool = True      # False: a set whose files are still to be checked (manifest.check)

    @property
    def description(self):
        return {"set": "backup set", "encrypted-set": "encrypted backup set", "odoo-zip": "Odoo zip backup",
                "pg-custom": "pg_dump custom-format file", "pg-directory": "pg_dump directory",
                "pg-sql": "plain SQL dump"}[self.kind]


NOT_A_BACKUP = ("is not a backup this tool can restore: give a set folder made by `invoke backup`, "
                "an Odoo zip (database manager / `odoo db dump`), or a pg_dump file (custom or SQL)")


def detect(path, jobs=2, check_set=True):
    """The Source for `path`, checked for completeness (checksums, zip CRCs, SQL footer).
    check_set=False: an unencrypted set's files are left for the caller to check (manifest.check)
    while it loads them; its manifest is read and checked here all the same."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise DfrError(f"{path} does not exist: give the path of a backup (`invoke backups` lists the sets)")
    if path.is_dir():
        if (path / manifest.NAME).exists():
            data = manifest.load(path)
            kind = "encrypted-set" if data.get("encrypted") else "set"
            checked = check_set or kind == "encrypted-set"   # age only reads a sealed set once checked
            if checked:
                manifest.check(path, data, jobs)
            return Source(kind, path, data, data.get("pg_version", ""), data.get("major_version", ""), checked)
        if (path / "toc.dat").exists():
            return Source("pg-directory", path)
        raise DfrError(f"{path} {NOT_A_BACKUP}")
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(AGE_MAGIC):
        if (path.parent / manifest.NAME).exists():
            return detect(path.parent, jobs)
        raise DfrError(f"{path} is age-encrypted but has no manifest.json beside it: give the set folder")
    if head.startswith(ZIP_MAGIC):
        return odoo_zip(path)
    if head.startswith(CUSTOM_MAGIC):
        return Source("pg-custom", path)
    if head.lstrip().startswith(b"--"):
        return plain_sql(path)
    raise DfrError(f"{path} {NOT_A_BACKUP}")


def odoo_zip(path):
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "dump.sql" not in names:
                raise DfrError(f"{path} is a zip without dump.sql: it is not an Odoo backup")
            damaged = archive.testzip()  # reads every member and checks its CRC-32
            if damaged:
                raise DfrError(f"{path} is damaged ({damaged} fails its CRC check): nothing was changed; use another backup")
            data = json.loads(archive.read("manifest.json")) if "manifest.json" in names else {}
    except zipfile.BadZipFile as error:
        raise DfrError(f"{path} is a damaged or truncated zip ({error}): nothing was changed; use another backup") from None
    except ValueError:
        raise DfrError(f"{path}: manifest.json is not valid JSON: the zip is damaged") from None
    return Source("odoo-zip", path, data, str(data.get("pg_version", "")), str(data.get("major_version", "")))


def plain_sql(path):
    with open(path, "rb") as handle:
        head = handle.read(4096).decode("utf-8", "replace")
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 4096))
        tail = handle.read().decode("utf-8", "replace")
    if SQL_HEADER not in head:
        raise DfrError(f"{path} {NOT_A_BACKUP}")
    if SQL_FOOTER not in tail:
        raise DfrError(f"{path} is a truncated SQL dump (no '{SQL_FOOTER}' line at the end): "
                       "nothing was changed; use a complete dump")
    match = re.search(r"-- Dumped from database version (\d+(?:\.\d+)?)", head)
    return Source("pg-sql", path, None, match.group(1) if match else "")


def pg_major(version):
    match = re.match(r"(\d+)", str(version or ""))
    return int(match.group(1)) if match else None
