"""Where things are inside the backup tools' containers, and who runs there.

A step gets only what it needs: the one set or folder it reads (read-only) or writes, never the
whole BACKUP_DIR - which stays root-only (0700) on the host, so that the tools' user owning the
files inside it gives no host account a way in.
"""
from dataclasses import dataclass
from pathlib import Path

# The tools' user: uid/gid 1000 (`dfr` in the backup image), the same uid as Odoo, so filestore
# files keep their owner. Every step runs as it, but the WAL archive's (owned by postgres).
TOOLS_USER = (1000, 1000)
POSTGRES_USER = (999, 999)

SET = "/set"              # a set folder, read-only
OUT = "/out"              # the folder a step writes (a set being made, a sealed set)
SCRATCH = "/scratch"      # a step's private scratch folder on disk (BACKUP_DIR/.tmp-*)
INPUT = "/input"          # a file or folder given to restore, read-only
OUTPUT = "/output"        # where an export is written
ODOO_DATA = "/var/lib/odoo"   # the odoo_data volume, as in the odoo container
FILESTORE = f"{ODOO_DATA}/filestore"
ARCHIVE = "/wal_archive"  # the WAL archive volume
NEWVOLUME = "/newvolume"  # a new docker volume being filled (recovered cluster, verification copy)
PGDATA = "/pgdata"        # the live cluster's volume, read-only (free space only)
OFFSITE = "/offsite"      # a local offsite folder
CREDENTIALS = "/run/dfr"  # bind-mounted credential files
PGPASS = f"{CREDENTIALS}/pgpass"
AGE_IDENTITY = f"{CREDENTIALS}/age-identity"
RCLONE_CONFIG = f"{CREDENTIALS}/rclone.conf"


@dataclass(frozen=True)
class Mount:
    source: str          # a host path or a docker volume name
    target: str
    read_only: bool = True

    def option(self):
        return f"{self.source}:{self.target}{':ro' if self.read_only else ''}"


def bind(path, target, read_only=True):
    return Mount(str(Path(path)), target, read_only)


def volume(name, target, read_only=True):
    return Mount(name, target, read_only)
