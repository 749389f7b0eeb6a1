"""SQL into the side database: plain SQL dumps through psql behind the SQL guard, custom-format
dumps through pg_restore (which talks to the server itself and runs no meta-command).

psql runs with -X (no psqlrc) and no variable but ON_ERROR_STOP, so a dump's `:name` can only
meet psql's own harmless variables (the guard refuses those too). A backup's SQL is pre-scanned
whole before anything runs, then guarded again while it streams into psql (the file could
change in between): psql only ever receives lines the guard has cleared, and a refusal while
streaming kills it with SIGKILL, so the server rolls its single transaction back.
"""
import contextlib
import json
import os
import subprocess
import zipfile

from .process import CHUNK, Failed, describe, run
from .sqlguard import Refused, SqlGuard, scan

NOTHING = "nothing was restored"


def psql_command(dbname, *args):
    return ["psql", "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", *args, f"--dbname={dbname}"]


def psql_environment():
    return {key: value for key, value in os.environ.items() if not key.startswith("PSQL")}


def load_sql(chunks, dbname, what):
    """Stream SQL through the guard into `psql --single-transaction -f -`."""
    psql = subprocess.Popen(psql_command(dbname, "--single-transaction", "-f", "-"), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, env=psql_environment())
    guard = SqlGuard()
    try:
        try:
            for chunk in chunks:
                cleared = guard.feed(chunk)
                if cleared:
                    psql.stdin.write(cleared)
            psql.stdin.write(guard.finish())
            psql.stdin.close()
        except BrokenPipeError:
            pass    # psql stopped reading (ON_ERROR_STOP): its exit status says why
    except Refused as refusal:
        psql.kill()
        psql.wait()
        raise Failed(f"{what}: {refusal} (psql was stopped with SIGKILL before reading it, so its transaction "
                     f"was rolled back): {NOTHING}") from None
    except BaseException:
        psql.kill()
        psql.wait()
        raise
    code = psql.wait()
    if code != 0:
        raise Failed(f"psql {describe(code)} while loading {what}")


def prescan(open_stream, what):
    try:
        with open_stream() as stream:
            scan(stream)
    except Refused as refusal:
        raise Failed(f"{what}: {refusal}: {NOTHING}") from None


def cmd_restore_sql(args):
    """A plain SQL dump (also Odoo's dump.sql, possibly inside a zip) through the guard into psql."""
    if args.zip_member:
        @contextlib.contextmanager
        def opened():
            with zipfile.ZipFile(args.file) as archive, archive.open(args.zip_member) as member:
                yield member
        what = args.zip_member
    else:
        def opened():
            return open(args.file, "rb")
        what = os.path.basename(args.file)
    try:
        prescan(opened, what)
        with opened() as stream:
            load_sql(iter(lambda: stream.read(4 * CHUNK), b""), args.dbname, what)
    except (zipfile.BadZipFile, KeyError) as error:
        raise Failed(f"reading {args.file}: {error}: {NOTHING}") from None
    print(json.dumps({"restored": args.dbname}))


def pg_restore(source, dbname, jobs, *options):
    # Ownership and grants are not restored: every object belongs to the connecting role (the
    # application role), whatever the source database called its owner.
    run(["pg_restore", f"--jobs={jobs}", "--exit-on-error", "--no-owner", "--no-privileges",
         "--no-password", *options, f"--dbname={dbname}", source])


def cmd_restore_custom(args):
    pg_restore(args.file, args.dbname, args.jobs)
    print(json.dumps({"restored": args.dbname}))
