"""A logical restore, step by step (the caller has entered the one door: the lock is held and
interrupted work has been put right).

1. Check everything before touching anything: the backup's manifest, Odoo's major version
   against the stack's, PostgreSQL's against the server's, free disk.
2. Load it into a new side database (as a sandbox role that can reach nothing else) and a side
   filestore folder, while a set's files are checked against their SHA-256 (a failure is
   reported as the damage when there is one); check every attachment row has its file; hand the
   copy to the application role; neutralize it outside production.
3. Swap, with a journal: stop Odoo, rename the live database aside and the side one into place in
   ONE transaction, move the filestore folders, start Odoo, wait until healthy. Any failure - or
   a kill, reboot or power cut, found by the journal on the next run - puts the previous
   database and filestore back.
4. The previous copy stays (and is listed) until --drop-previous or the next good restore.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone

from ...errors import DfrError
from ...progress import elapsed, say, step
from ...stack import odoo
from ...stack.database import Catalog
from .. import guard, journal, manifest, publish, roles, settings
from .. import source as sources
from ..runner import Runner
from . import checks, sandbox, side_load, swap


def restore(env, file, identity=None, neutralize_copy=None, force=False, confirm=None, drop_previous=False,
            jobs=None, timeout=300, allow_missing=False, own_folders=()):
    """Restore `file` into `env` (own_folders: other BACKUP_DIRs whose sets may be mounted as
    they are - a drill restores the environment's sets into its throwaway stack)."""
    file = sources.resolve_file(env, file)
    db = settings.db_name(env)
    production = env.name == "prod"
    neutralize_copy = (not production) if neutralize_copy is None else neutralize_copy
    if production and not force:
        guard.production(env, db, force, confirm)
    runner, catalog = Runner(env), Catalog(env)
    runner.check_image()
    try:
        return _restore(env, runner, catalog, file, db, identity, neutralize_copy, force, confirm, drop_previous,
                        settings.jobs(env, jobs), timeout, allow_missing, own_folders)
    finally:
        runner.close()


def _restore(env, runner, catalog, file, db, identity, neutralize_copy, force, confirm, drop_previous, jobs, timeout,
             allow_missing, own_folders):
    folder = settings.backup_dir(env)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    side, previous = f"{db}_restore_{stamp}", f"{db}_prev_{stamp}"
    total, began, scratches, checking = 6, time.monotonic(), [], None
    checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checksums")
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The stack is probed while the backup is read; its answers are only judged in step 2.
            probe = pool.submit(checks.probe_stack, env, runner, catalog, db, folder)
            with step(1, total, f"checking {file}"):
                source, scratches = sources.open_source(env, runner, file, jobs, identity, check_set=False)
                if (source.manifest or {}).get("method") == "basebackup":
                    raise DfrError(f"{file} is a base backup: restore it to a point in time with "
                                   "--to-time=... or --latest instead of --file")
                if not source.checked:
                    # A set's files are checked against its manifest while they load: the sandbox
                    # takes any bytes (a backup is untrusted, intact or not), and nothing is handed
                    # over or swapped in before the check has passed.
                    checking = checker.submit(manifest.check, source.path, source.manifest, jobs)
                say(f"      {source.description}"
                    + (f", Odoo {source.major_version}" if source.major_version else "")
                    + (f", PostgreSQL {source.pg_version}" if source.pg_version else "")
                    + (": intact" if source.checked else ": every file's SHA-256 is checked while it loads"))
            with damage_first(checking), step(2, total, f"checking {env.project_name} (versions, free disk)"):
                stack = probe.result()
                checks.check_versions(env, source, stack)
                checks.check_disk(source, stack["free"])
                sandbox.check_rules(env, catalog)
        guard.production(env, db, force, confirm)
        if checking is not None and not sources.mounted_as_is(env, source.path, own_folders):
            checking.result()      # what is copied for the tools' user has been checked
        mount, inside, copied = sources.mount_source(env, source.path, folder, own_folders)
        scratches += [copied] if copied else []
        journal.write(folder, swap.JOURNAL, {"phase": "loading", "db": db, "side": side})
        try:
            with step(3, total, f"restoring into the side database {side} (the live one is untouched)"):
                role = sandbox.create(catalog, side, stack["collate"])
                with damage_first(checking):
                    side_load.load(env, runner, source, mount, inside, side, role, jobs)
                if checking is not None:
                    checking.result()
                    say("      every file of the set matches its SHA-256")
                if source.kind not in side_load.WITH_FILESTORE:
                    side_load.link_live_filestore(env, runner, role, side, allow_missing)
                count = side_load.check_filestore(runner, role, side, allow_missing)
                say(f"      {count} attachments checked in the restored filestore")
                sandbox.hand_over(catalog, side, settings.db_user(env))
            with step(4, total, "neutralizing the copy, new uuid and secret" if neutralize_copy
                      else "keeping the copy as is (--no-neutralize / production)"):
                if neutralize_copy:
                    odoo.neutralize(env, side)
                    side_load.new_identity(runner, roles.application(env), side)
                    if env.name != "prod" and odoo.set_admin_password(env, side):
                        # testers of staging log in as `admin` with staging's own password, not
                        # production's (which they must not know)
                        say(f"      `admin` logs in with {env.name}'s own password (.docker/{env.name}/"
                            "admin_user_password)")
        except BaseException:
            say(f"removing the side copy {side}; the live database was not touched")
            try:
                swap.drop_copy(runner, catalog, side)
                journal.remove(folder, swap.JOURNAL)
            except Exception as error:  # noqa: BLE001 - the first failure is the one to report
                say(f"could not remove {side} (the next operation will): {error}")
            raise
    finally:
        checker.shutdown(wait=True)
        for scratch in scratches:
            publish.discard(scratch)
    with step(5, total, f"swapping {side} in for {db} (previous kept as {previous})"):
        swap.swap(env, runner, catalog, db, side, previous, timeout)
    with step(6, total, "cleaning up previous copies"):
        for old in swap.older_previous(catalog, db, keep=None if drop_previous else previous):
            say(f"      dropping {old}")
            swap.drop_copy(runner, catalog, old)
    say(f"restored {source.path.name} into {db} of {env.project_name} in {elapsed(began)}"
        + ("" if drop_previous else f"; the previous database is kept as {previous}"))
    return previous


@contextmanager
def damage_first(checking):
    """A failure while the set's files are being checked is reported as the damage the check
    finds, if it finds one (a damaged file, not what a loader or a check made of it)."""
    try:
        yield
    except Exception:
        if checking is not None:
            checking.result()
        raise
