"""`invoke restore`: replace an environment's database and filestore from a backup, without
ever losing the ones being replaced.

1. Check everything before touching anything: the backup's checksums and manifest, Odoo's
   major version against the stack's, PostgreSQL's against the server's, free disk.
2. Restore into a new side database and side filestore folder (stop-on-error, exit codes
   checked); check every attachment row has its file; neutralize the copy outside production.
3. Swap, with a journal on disk: stop Odoo, rename the live database aside and the side one
   into place in ONE transaction, move the filestore folders, start Odoo, wait until healthy.
   Any failure - or a kill, reboot or power cut, found by the journal on the next run - puts
   the previous database and filestore back.
4. The previous copy stays (and is listed) until --drop-previous or the next good restore.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from ..docker import compose, docker
from ..errors import DfrError
from ..progress import elapsed, say, step
from . import crypto, formats, journal, lock, publish, settings
from .tools import BACKUPS, INPUT, ODOO_DATA, Tools, human

JOURNAL = ".restore-journal.json"
FILESTORE = f"{ODOO_DATA}/filestore"
WITH_FILESTORE = ("set", "odoo-zip")   # the kinds of backup that carry one (pg_dump files do not)


def _checkpoint(name):
    """Failure injection for the fault tests (DFR_TEST_KILL_AT=<checkpoint>): die like a power cut."""
    if os.environ.get("DFR_TEST_KILL_AT") == name:
        say(f"DFR_TEST_KILL_AT={name}: killing this process now")
        sys.stdout.flush()
        os.kill(os.getpid(), 9)


# ----------------------------------------------------------------------------- journal
def journal_path(tools):
    return journal.path(tools, JOURNAL)


def write_journal(tools, data):
    journal.write(tools, JOURNAL, data)


def database_exists(tools, name):
    return tools.psql("SELECT count(*) FROM pg_database WHERE datname = :'name'", variables={"name": name},
                      what="looking up a database") == "1"


def terminate(tools, *names):
    """Close every session of the named databases (one query)."""
    tools.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
               " WHERE datname IN (SELECT json_array_elements_text(:'names'::json)) AND pid <> pg_backend_pid()",
               variables={"names": json.dumps(list(names))}, what=f"closing the sessions of {', '.join(names)}")


def move_folders(tools, *moves, missing_ok=True):
    """rename(2) filestore folders, in order, in one helper run: (src, dst) pairs."""
    args = ["move"] + (["--missing-ok"] if missing_ok else [])
    for src, dst in moves:
        args += [f"{FILESTORE}/{src}", f"{FILESTORE}/{dst}"]
    what = "; ".join(f"moving filestore {src} to {dst}" for src, dst in moves)
    return tools.helper("fs-move", *args, what=what, odoo_data="rw")


def drop_copy(tools, name):
    """Drop a database and its filestore folder (side copies and old previous copies only)."""
    terminate(tools, name)
    tools.psql('DROP DATABASE IF EXISTS :"name"', variables={"name": name}, what=f"dropping {name}")
    tools.helper("fs-remove", "remove", "--root", FILESTORE, f"{FILESTORE}/{name}", what=f"removing filestore {name}",
                 odoo_data="rw")


def recover(env, tools):
    """Finish what an interrupted restore left: put the previous database back (or forget a
    restore that had completed). Called under the lock by every backup operation."""
    path = journal_path(tools)
    if not path.exists():
        return False
    state = json.loads(path.read_text())
    if state.get("phase") == "done":
        path.unlink()
        return False
    db, side, previous = state["db"], state["side"], state["previous"]
    say(f"a restore of {env.name} was interrupted ({state.get('phase')}): putting the previous database back")
    stop_odoo(env)
    if state.get("phase") != "previous-back":
        if database_exists(tools, previous):
            terminate(tools, db, previous)
            renames = ""
            if database_exists(tools, db):
                renames += 'ALTER DATABASE :"db" RENAME TO :"side";\n'
            renames += 'ALTER DATABASE :"previous" RENAME TO :"db";\n'
            tools.psql(f"BEGIN;\n{renames}COMMIT;", variables={"db": db, "side": side, "previous": previous},
                       what="renaming the previous database back")
        # filestore: previous folder back under the live name (the restored one goes back to side)
        if _filestore_exists(tools, previous):
            move_folders(tools, (db, side))
            move_folders(tools, (previous, db), missing_ok=False)
        # Once Odoo was being started on the restored copy ("starting"), it may have served
        # users (a deploy, say, before this ran): it is kept as the previous copy, never
        # dropped. Recorded first, so that a recovery interrupted from here on never swaps
        # the kept copy back in.
        state = dict(state, phase="previous-back",
                     keep=state.get("phase") == "starting" and database_exists(tools, side))
        write_journal(tools, state)
    if state["keep"]:
        if database_exists(tools, side):
            tools.psql('ALTER DATABASE :"side" RENAME TO :"previous"', variables={"side": side, "previous": previous},
                       what="keeping the restored copy")
        move_folders(tools, (side, previous))
    _checkpoint("recovered-previous")
    if state.get("odoo_running", True):
        start_odoo(env, timeout=int(state.get("timeout", 300)), check=False)
    if state["keep"]:
        say(f"the restored copy Odoo may have run on is kept as {previous} (`invoke backups` lists it; "
            "the next restore or --drop-previous drops it)")
    else:
        try:
            drop_copy(tools, side)
        except DfrError as error:
            say(f"could not remove the side copy {side}: {error}")
    path.unlink()
    say(f"the previous database {db} and its filestore are back in place")
    return True


def _filestore_exists(tools, name):
    code = tools.command("fs-exists", ["test", "-d", f"{FILESTORE}/{name}"], odoo_data="rw").run(
        retcode=None, timeout=120)[0]
    return code == 0


# ----------------------------------------------------------------------------- odoo
def odoo_container(env):
    out = compose(env)["ps", "--all", "-q", "odoo"].run(retcode=None, timeout=60)[1].strip()
    return out.splitlines()[-1] if out else ""


def stop_odoo(env):
    """Stop every running Odoo container; returns their ids.

    The containers themselves are stopped and later started again (not `compose stop`/`up`):
    half the time, and Odoo comes back exactly as it ran, even if the compose files changed."""
    cids = compose(env)["ps", "-q", "odoo"].run(retcode=None, timeout=60)[1].split()
    if not cids:
        return []
    try:
        docker()["stop", "--time", "30", *cids].run(timeout=120)
    except (ProcessExecutionError, ProcessTimedOut):
        raise DfrError(f"cannot stop Odoo of {env.name}: see `invoke status --env={env.name}`") from None
    return cids


def health_probe(cid):
    """The image's own HEALTHCHECK command, to run with `docker exec` (None if it has none)."""
    test = json.loads(docker()["inspect", "-f", "{{json .Config.Healthcheck}}", cid].run(
        retcode=None, timeout=60)[1].strip() or "null") or {}
    test = test.get("Test") or []
    if test[:1] == ["CMD"] and len(test) > 1:
        return test[1:]
    if test[:1] == ["CMD-SHELL"] and len(test) == 2:
        return ["sh", "-c", test[1]]
    return None


def start_odoo(env, timeout=300, check=True, cids=None):
    """Start Odoo and wait (bounded) until its health check passes.

    The check is run here every quarter second, then every second (the image's own HEALTHCHECK
    command, through docker exec) instead of waiting for Docker's next scheduled check, which comes only every
    HEALTH_INTERVAL (10 s and more in production): Odoo is back that much sooner.
    """
    try:
        if cids:    # the ones stop_odoo stopped
            docker()["start", *cids].run(timeout=300)
            cid = cids[-1]
        else:       # not known, or removed meanwhile: as deploy does
            compose(env)["up", "--detach", "--no-deps", "odoo"].run(timeout=300)
            cid = odoo_container(env)
    except (ProcessExecutionError, ProcessTimedOut):
        if check:
            raise DfrError(f"cannot start Odoo of {env.name}") from None
        return False
    started = time.monotonic()
    probe = health_probe(cid)
    while True:
        state = docker()["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                         cid].run(retcode=None, timeout=60)[1].split()
        if state[-1:] == ["healthy"]:
            return True
        if state[:1] in (["exited"], ["dead"]) or state[-1:] == ["unhealthy"]:
            if check:
                raise DfrError(f"Odoo of {env.name} is {state[-1]} on the restored database")
            return False
        if probe and state[:1] == ["running"]:
            try:
                if docker()["exec", cid, probe].run(retcode=None, timeout=30)[0] == 0:
                    return True
            except ProcessTimedOut:
                pass
        if time.monotonic() - started > timeout:
            if check:
                raise DfrError(f"Odoo of {env.name} was not healthy within {timeout} s on the restored database")
            return False
        # every quarter second while a quick start is likely, then every second
        time.sleep(0.25 if time.monotonic() - started < 15 else 1)


def neutralize(env, side):
    """`odoo neutralize -d SIDE` in a one-off Odoo container; exit code read with docker wait."""
    out = compose(env)["run", "--detach", "--no-deps", "odoo", "odoo", "neutralize", "-d", side].run(timeout=300)[1]
    cid = out.strip().splitlines()[-1]
    try:
        code = int(docker()["wait", cid].run(timeout=600)[1].strip())
        logs = docker()["logs", cid].run(retcode=None, timeout=60)
    finally:
        docker()["rm", "-f", cid].run(retcode=None, timeout=60)
    if code != 0:
        lines = [l for l in (logs[1] + logs[2]).splitlines() if l.strip()]
        raise DfrError(f"odoo neutralize failed on the restored copy (exit {code}): {lines[-1] if lines else ''}; "
                       "the live database was not touched")


# ----------------------------------------------------------------------------- restore
def _in_container(tools, path):
    """(path as seen in the tools container, mounts) for a file or folder given by the user."""
    path = Path(path).resolve()
    try:
        return f"{BACKUPS}/{path.relative_to(tools.backup_dir.resolve())}", None
    except ValueError:
        return f"{INPUT}/{path.name}", str(path.parent)


def preflight(env, tools, source, db, identity):
    """Everything that can be known before changing anything; returns (source, scratch)."""
    scratch = None
    if source.kind == "encrypted-set":
        identity = crypto.identity_file(identity)
        scratch = publish.temp_dir(tools.backup_dir, "restore")
        inner_path, input_dir = _in_container(tools, source.path / "set.tar.age")
        try:
            tools.helper("age-decrypt", "decrypt", "--file", inner_path, "--identity", "/run/dfr/age/identity",
                         "--dest", f"{BACKUPS}/{scratch.name}/set", "--owner", tools.owner,
                         what="decrypting the set", input_dir=input_dir, watch=scratch,
                         extra_mounts=[f"{identity}:/run/dfr/age/identity:ro"])
        except DfrError as error:
            publish.discard(scratch, tools.remove)
            if "no identity matched" in str(error):
                raise DfrError(f"the age identity {identity} cannot decrypt {source.path.name} (wrong key): "
                               "give the identity matching one of its recipients; nothing was changed") from None
            raise
        inner = formats.detect(scratch / "set")
        source = formats.Source("set", inner.path, inner.manifest, inner.pg_version, inner.major_version)
    return source, scratch


def probe_stack(tools, db):
    """What the checks need from the stack: Odoo's version (from its image), the server's major,
    the live database's collation and the free disk of each volume. Read while the backup's
    checksums are being verified (two container starts and a few queries, overlapped)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        # the two container runs need no database: started first
        release = pool.submit(tools.odoo_release)
        free = pool.submit(tools.helper, "df", "df", "/pgdata", ODOO_DATA, BACKUPS, what="checking free disk space",
                           odoo_data="ro", extra_mounts=[f"{tools.project}_postgres_data:/pgdata:ro"])
        tools.db_container()
        row = json.loads(tools.psql(
            "SELECT json_build_object('server', current_setting('server_version_num')::int / 10000,"
            " 'collate', coalesce((SELECT json_build_array(datcollate, datctype) FROM pg_database"
            " WHERE datname = :'db'), '[\"C.UTF-8\", \"C.UTF-8\"]'::json))", variables={"db": db},
            what="reading the server version and the collation"))
        return {"release": release.result(), "server": row["server"], "collate": row["collate"],
                "free": free.result()}


def check_versions(env, source, stack):
    release, server = stack["release"], stack["server"]
    if source.major_version and str(source.major_version) != str(release["major_version"]):
        raise DfrError(f"the backup is from Odoo {source.major_version} but {env.name} runs Odoo "
                       f"{release['major_version']}: restore it into a stack of the same Odoo major version "
                       "(or migrate it first); nothing was changed")
    made = formats.pg_major(source.pg_version)
    if made and made > server:
        raise DfrError(f"the backup was made by PostgreSQL {made}, newer than {env.name}'s server ({server}): "
                       "restore it into a server of that major or newer; nothing was changed")


def check_disk(tools, source, free):
    data = source.manifest or {}
    db_bytes = (data.get("database") or {}).get("size_bytes")
    fs_bytes = (data.get("filestore") or {}).get("raw_bytes")
    if db_bytes is None or fs_bytes is None:
        size = source.path.stat().st_size if source.path.is_file() else sum(
            p.stat().st_size for p in source.path.rglob("*") if p.is_file())
        db_bytes = db_bytes or size * 3
        fs_bytes = fs_bytes or size
    needs = [("/pgdata", "the database volume", int(db_bytes * 1.2) + (64 << 20)),
             (ODOO_DATA, "the filestore volume", int(fs_bytes * 1.05) + (16 << 20))]
    for where, label, need in needs:
        if free[where]["free"] < need:
            raise DfrError(f"not enough free disk on {label}: {human(free[where]['free'])} free, about "
                           f"{human(need)} needed for the restored copy next to the current one; free some "
                           "space (e.g. `invoke restore ... --drop-previous` drops the previous copy); nothing was changed")


def load_side(env, tools, source, side, jobs, collate):
    """Create the side database (owned by the application role) and load the backup into it."""
    tools.psql('CREATE DATABASE :"side" OWNER :"owner" TEMPLATE template0 ENCODING \'UTF8\''
               ' LC_COLLATE :\'collate\' LC_CTYPE :\'ctype\'',
               variables={"side": side, "owner": settings.db_user(env), "collate": collate[0], "ctype": collate[1]},
               what=f"creating the side database {side}")
    # Bulk-load session settings: index builds sort in memory, foreign keys are checked with
    # in-memory hash joins, and commits do not wait for the disk (the swap only happens after
    # the load has finished and the server has the data; a crash before simply drops the copy).
    memory = settings.restore_memory_mb(env, jobs)
    pg_options = ["-e", f"PGOPTIONS=-c maintenance_work_mem={memory}MB -c work_mem={max(4, memory // 4)}MB"
                  " -c synchronous_commit=off"]
    path, input_dir = _in_container(tools, source.path)

    def load_database():
        if source.kind == "set":
            loaded = tools.run(
                "pg_restore", ["dfr-backup-helper", "restore-db", "--dump", f"{path}/db", "--scratch",
                               f"{BACKUPS}/.tmp-restore-scratch-{os.getpid()}", "--jobs", str(jobs), side],
                what="loading the side database", db=True, input_dir=input_dir, pg_options=pg_options)
            say(f"      database: schema {loaded['schema_seconds']} s, {loaded['tables']} tables' data "
                f"{loaded['data_seconds']} s, indexes and constraints {loaded['index_seconds']} s, "
                f"{loaded['foreign_keys']} foreign keys checked {loaded['foreign_key_seconds']} s")
        elif source.kind in ("pg-custom", "pg-directory"):
            tools.run("pg_restore", ["dfr-backup-helper", "restore-custom", "--file", path, "--jobs", str(jobs), side],
                      what="pg_restore into the side database", db=True, input_dir=input_dir, pg_options=pg_options)
        elif source.kind == "pg-sql":
            tools.run("psql", ["dfr-backup-helper", "restore-sql", "--file", path, side],
                      what="psql (stop on error) into the side database", db=True, input_dir=input_dir,
                      pg_options=pg_options)
        elif source.kind == "odoo-zip":
            tools.run("psql", ["dfr-backup-helper", "restore-sql", "--file", path, "--zip-member", "dump.sql", side],
                      what="loading dump.sql (stop on error) into the side database", db=True, input_dir=input_dir,
                      pg_options=pg_options)

    def load_filestore():
        # Filestore into filestore/<side>, next to the live one.
        # Files the live filestore already holds with the same bytes are hard-linked, not written.
        if source.kind in WITH_FILESTORE:
            archive = f"{path}/filestore.tar.zst" if source.kind == "set" else path
            unpacked = tools.helper("fs-restore", "restore-filestore", "--archive", archive,
                                    "--dest", f"{FILESTORE}/{side}", "--link-from", f"{FILESTORE}/{settings.db_name(env)}",
                                    what="unpacking the filestore", odoo_data="rw", input_dir=input_dir)
            say(f"      filestore: {unpacked['files']} files, {unpacked['linked']} of them already in place "
                "(hard-linked, not copied)")

    # The database load is bound by index builds, the filestore by disk writes: run them side by
    # side (both land beside the live data; nothing live is touched). Both are always waited
    # for, so a failure of one never leaves the other running behind the caller's clean-up.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="restore") as pool:
        futures = [pool.submit(load_database), pool.submit(load_filestore)]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def has_attachments(tools, side):
    return tools.psql("SELECT to_regclass('public.ir_attachment') IS NOT NULL", db=side,
                      what="reading the restored copy") == "t"


def link_live_filestore(env, tools, side, allow_missing):
    """A pg_dump file holds no filestore: the restored copy's attachment files are taken from
    the live filestore (hard links, each file's SHA-1 checked against its row). Any not there
    stops the restore, unless --allow-missing."""
    if not has_attachments(tools, side):
        return
    rows = tools.psql("SELECT store_fname || E'\\t' || coalesce(checksum, '') FROM ir_attachment"
                      " WHERE store_fname IS NOT NULL", db=side, what="reading the restored attachments")
    result = tools.helper("fs-link", "link-files", "--source", f"{FILESTORE}/{settings.db_name(env)}",
                          "--dest", f"{FILESTORE}/{side}", stdin=rows + "\n", what="taking files from the live filestore",
                          odoo_data="rw")
    say(f"      filestore: none in a pg_dump file; {result['linked']} attachment file(s) taken from the live "
        "filestore (hard-linked, SHA-1 checked)")
    missing, mismatched = result["missing"], result["mismatched"]
    if (missing or mismatched) and not allow_missing:
        raise DfrError(f"{len(missing)} attachment file(s) of the dump are not in the live filestore and "
                       f"{len(mismatched)} there have another SHA-1 (first: {(missing + mismatched)[0]}): a pg_dump "
                       "file holds no filestore - restore a set or an Odoo zip that has them, or add "
                       "--allow-missing to restore without them; nothing was changed")


def check_side(tools, side, allow_missing=False):
    """Every attachment row of the restored copy has its file in the side filestore."""
    if not has_attachments(tools, side):
        return 0
    names = tools.psql("SELECT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL", db=side,
                       what="reading the restored attachments")
    result = tools.helper("fs-check", "check-files", "--root", f"{FILESTORE}/{side}", stdin=names + "\n",
                          what="checking the restored filestore", odoo_data="ro")
    if result["missing"] and allow_missing:
        say(f"      {len(result['missing'])} attachment file(s) missing, restored without them (--allow-missing)")
    elif result["missing"]:
        raise DfrError(f"{len(result['missing'])} attachment file(s) of the backup are missing from its filestore "
                       f"(first: {result['missing'][0]}); nothing was changed - use another backup")
    return len([n for n in names.splitlines() if n])


def new_identity(tools, side):
    """A copy gets a new database.uuid and database.secret (as Odoo does for duplicates)."""
    if tools.psql("SELECT to_regclass('public.ir_config_parameter') IS NOT NULL", db=side, what="probe") != "t":
        return
    tools.psql("UPDATE ir_config_parameter SET value = gen_random_uuid()::text"
               " WHERE key IN ('database.uuid', 'database.secret');"
               "UPDATE ir_config_parameter SET value = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
               " WHERE key = 'database.create_date';", db=side, what="giving the copy a new uuid and secret")


def confirm_production(env, db, confirm):
    if confirm is None:
        if not sys.stdin.isatty():
            raise DfrError("restoring into production needs the database name typed at the prompt "
                           f"(or --confirm={db} in scripts)")
        confirm = input(f"This replaces the PRODUCTION database '{db}' of {env.project_name}. "
                        "Type the database name to go on: ").strip()
    if confirm != db:
        raise DfrError(f"confirmation {confirm!r} is not the database name {db!r}: nothing was changed")


def restore(env, file, identity=None, neutralize_copy=None, force=False, confirm=None, drop_previous=False,
            jobs=None, timeout=300, allow_missing=False):
    file = resolve_file(env, file)
    tools = Tools(env)
    db = settings.db_name(env)
    production = env.name == "prod"
    neutralize_copy = (not production) if neutralize_copy is None else neutralize_copy
    if production and not force:
        raise DfrError("restoring into production replaces the live registry: add --force (you will be asked "
                       "to type the database name)")
    identity = identity or env.get("BACKUP_AGE_IDENTITY", "") or None
    jobs = settings.jobs(env, jobs)
    tools.check_image()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    side, previous = f"{db}_restore_{stamp}", f"{db}_prev_{stamp}"
    total = 6
    began = time.monotonic()
    with lock.held(tools.backup_dir, "restore", env.name):
        scratch = None
        try:
            recover(env, tools)
            with ThreadPoolExecutor(max_workers=1) as pool:
                # The stack is probed while the backup's checksums are verified; its answers are
                # only judged in step 2 (a bad backup is reported first, whatever the stack says).
                probe = pool.submit(probe_stack, tools, db)
                with step(1, total, f"checking {file}"):
                    source = formats.detect(file, jobs)
                    if (source.manifest or {}).get("method") == "basebackup":
                        raise DfrError(f"{file} is a base backup: restore it to a point in time with "
                                       "--to-time=... or --latest instead of --file")
                    source, scratch = preflight(env, tools, source, db, identity)
                    say(f"      {source.description}"
                        + (f", Odoo {source.major_version}" if source.major_version else "")
                        + (f", PostgreSQL {source.pg_version}" if source.pg_version else "") + ": intact")
                with step(2, total, f"checking {env.project_name} (versions, free disk)"):
                    stack = probe.result()
                    check_versions(env, source, stack)
                    check_disk(tools, source, stack["free"])
                    collate = stack["collate"]
            if production:
                confirm_production(env, db, confirm)
            try:
                with step(3, total, f"restoring into the side database {side} (the live one is untouched)"):
                    load_side(env, tools, source, side, jobs, collate)
                    if source.kind not in WITH_FILESTORE:
                        link_live_filestore(env, tools, side, allow_missing)
                    count = check_side(tools, side, allow_missing)
                    say(f"      {count} attachments checked in the restored filestore")
                with step(4, total, "neutralizing the copy, new uuid and secret" if neutralize_copy
                          else "keeping the copy as is (--no-neutralize / production)"):
                    if neutralize_copy:
                        neutralize(env, side)
                        new_identity(tools, side)
            except BaseException:
                say(f"removing the side copy {side}; the live database was not touched")
                try:
                    drop_copy(tools, side)
                except Exception as error:
                    say(f"could not remove {side}: {error}")
                raise
        finally:
            if scratch is not None:
                publish.discard(scratch, tools.remove)
        with step(5, total, f"swapping {side} in for {db} (previous kept as {previous})"):
            write_journal(tools, {"db": db, "side": side, "previous": previous, "phase": "swapping",
                                  "odoo_running": True, "timeout": timeout})
            try:
                stopped = stop_odoo(env)
                terminate(tools, db, side)
                tools.psql('BEGIN;\nALTER DATABASE :"db" RENAME TO :"previous";\n'
                           'ALTER DATABASE :"side" RENAME TO :"db";\nCOMMIT;',
                           variables={"db": db, "side": side, "previous": previous},
                           what="renaming the databases")
                move_folders(tools, (db, previous), (side, db))
                _checkpoint("after-rename")
                write_journal(tools, {"db": db, "side": side, "previous": previous, "phase": "starting",
                                      "odoo_running": True, "timeout": timeout})
                start_odoo(env, timeout=timeout, cids=stopped)
                _checkpoint("after-start")
                write_journal(tools, {"db": db, "side": side, "previous": previous, "phase": "done"})
            except BaseException:
                say("the swap failed: putting the previous database back")
                recover(env, tools)
                raise
            journal_path(tools).unlink()
        with step(6, total, "cleaning up previous copies"):
            for old in older_previous(tools, db, keep=None if drop_previous else previous):
                say(f"      dropping {old}")
                drop_copy(tools, old)
        tools.close()
    say(f"restored {source.path.name} into {db} of {env.project_name} in {elapsed(began)}"
        + ("" if drop_previous else f"; the previous database is kept as {previous}"))
    return previous


def older_previous(tools, db, keep):
    names = tools.psql("SELECT datname FROM pg_database WHERE datname LIKE :'pattern' ORDER BY datname",
                       variables={"pattern": f"{db}\\_prev\\_%"}, what="listing previous copies")
    return [n for n in names.splitlines() if n and n != keep]


def resolve_file(env, name):
    """A path, or the name of a set in the environment's BACKUP_DIR."""
    path = Path(name).expanduser()
    if path.exists():
        return path.resolve()
    candidate = settings.backup_dir(env) / name
    return candidate if candidate.exists() else path
