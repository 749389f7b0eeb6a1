"""restore: a set, an Odoo zip or a pg_dump file (logical), or a point in time (PITR)."""
from ..backup.pitr import run as pitr
from ..backup.restore import run as logical
from ..errors import DfrError
from . import door


def restore(env, file=None, to_time=None, to_lsn=None, to_xid=None, latest=False, identity=None,
            neutralize_copy=None, force=False, confirm=None, drop_previous=False, jobs=None, timeout=300,
            allow_missing=False):
    point_in_time = bool(to_time or to_lsn or to_xid or latest)
    if point_in_time and file:
        raise DfrError("give either --file or a point in time (--to-time/--to-lsn/--to-xid/--latest), not both")
    if not point_in_time and not file:
        raise DfrError("give --file=PATH (a backup; `invoke backups` lists them) or a point in time "
                       "(--to-time/--to-lsn/--to-xid/--latest)")
    with door.enter(env, "restore (point in time)" if point_in_time else "restore"):
        if point_in_time:
            return pitr.restore(env, to_time=to_time, to_lsn=to_lsn, to_xid=to_xid, latest=latest, identity=identity,
                                neutralize_copy=neutralize_copy, force=force, confirm=confirm,
                                drop_previous=drop_previous, odoo_timeout=timeout)
        return logical.restore(env, file, identity=identity, neutralize_copy=neutralize_copy, force=force,
                               confirm=confirm, drop_previous=drop_previous, jobs=jobs, timeout=timeout,
                               allow_missing=allow_missing)
