"""The `backup` and `restore` commands: choose the method the options ask for.

Logical sets (pg_dump) live in logical.py / restore.py; base backups and point-in-time
recovery in basebackup.py / pitr.py. The tasks call only these two functions.
"""
from ..errors import DfrError
from . import basebackup, logical, pitr
from . import restore as logical_restore

METHODS = ("logical", "basebackup")


def backup(env, method="logical", jobs=None, encrypt=True, copy_offsite=True, prune=False, allow_missing=False):
    if method not in METHODS:
        raise DfrError(f"unknown --method={method!r}: use logical (pg_dump) or basebackup (for point-in-time recovery)")
    if method == "basebackup":
        return basebackup.run(env, jobs=jobs, encrypt=encrypt, copy_offsite=copy_offsite, prune=prune)
    return logical.backup(env, jobs=jobs, encrypt=encrypt, copy_offsite=copy_offsite, prune=prune,
                          allow_missing=allow_missing)


def restore(env, file=None, to_time=None, to_lsn=None, to_xid=None, latest=False, identity=None,
            neutralize_copy=None, force=False, confirm=None, drop_previous=False, jobs=None, timeout=300,
            allow_missing=False):
    point_in_time = bool(to_time or to_lsn or to_xid or latest)
    if point_in_time and file:
        raise DfrError("give either --file or a point in time (--to-time/--to-lsn/--to-xid/--latest), not both")
    if point_in_time:
        return pitr.restore(env, to_time=to_time, to_lsn=to_lsn, to_xid=to_xid, latest=latest, identity=identity,
                            neutralize_copy=neutralize_copy, force=force, confirm=confirm,
                            drop_previous=drop_previous, odoo_timeout=timeout)
    if not file:
        raise DfrError("give --file=PATH (a backup; `invoke backups` lists them) or a point in time "
                       "(--to-time/--to-lsn/--to-xid/--latest)")
    return logical_restore.restore(env, file, identity=identity, neutralize_copy=neutralize_copy, force=force,
                                   confirm=confirm, drop_previous=drop_previous, jobs=jobs, timeout=timeout,
                                   allow_missing=allow_missing)
