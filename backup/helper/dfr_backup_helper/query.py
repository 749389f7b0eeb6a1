"""`query`: SQL from the host's own code (stdin) run by psql as the role libpq's PG* variables
name, in one transaction; the tuples come back as JSON lines. Values travel as psql variables
(`:'name'`), never formatted into the text. The host never sends a backup's SQL here, but the
text goes through the SQL guard anyway: no meta-command can reach psql this way either."""
import json
import subprocess
import sys

from .process import Failed, describe
from .sqlguard import SqlGuard
from .sqlload import psql_environment


# An Odoo database's attachments as "store_fname<TAB>sha1" lines. Read as the PG* role (the
# sandbox or application role, never the superuser: the rows of a restored copy are untrusted),
# in the container that then looks at the files, so the check costs one container, not two.
ATTACHMENTS_TABLE = "public.ir_attachment"
ATTACHMENT_ROWS_SQL = (b"SELECT store_fname || E'\\t' || coalesce(checksum, '') FROM ir_attachment"
                       b" WHERE store_fname IS NOT NULL")


def cmd_query(args):
    text = sys.stdin.buffer.read()
    guard = SqlGuard()      # our variables are lower case: the guard refuses only psql's own
    guard.feed(text)
    guard.finish()
    if args.if_relation and not relation_exists(args.if_relation, args.db):
        print(json.dumps({"rows": [], "relation": False}))  # not there: the query would only fail
        return
    print(json.dumps({"rows": psql(text, args.var, args.db), "relation": True}))


def relation_exists(relation, db):
    return psql(b"SELECT to_regclass(:'relation') IS NOT NULL", [f"relation={relation}"], db) == ["t"]


def attachment_rows(db):
    """The attachment lines of database `db`, or None when it has no ir_attachment (not Odoo's)."""
    return psql(ATTACHMENT_ROWS_SQL, [], db) if relation_exists(ATTACHMENTS_TABLE, db) else None


def psql(text, variables, db):
    """The lines psql prints for `text`, run in one transaction as the PG* role."""
    command = ["psql", "-X", "-qAt", "--no-password", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    for item in variables:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise Failed(f"--var {item!r}: write it as NAME=VALUE")
        command += ["-v", f"{key}={value}"]
    command += ["-f", "-"] + ([f"--dbname={db}"] if db else [])
    result = subprocess.run(command, input=text, capture_output=True, env=psql_environment())
    if result.returncode != 0:
        said = result.stderr.decode(errors="replace").strip().splitlines()
        raise Failed(f"psql {describe(result.returncode)}: {said[-1] if said else ''}".rstrip(": "))
    return result.stdout.decode(errors="replace").splitlines()
