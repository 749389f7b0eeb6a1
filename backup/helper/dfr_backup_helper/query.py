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


def cmd_query(args):
    text = sys.stdin.buffer.read()
    guard = SqlGuard()      # our variables are lower case: the guard refuses only psql's own
    guard.feed(text)
    guard.finish()
    if args.if_relation and psql(b"SELECT to_regclass(:'relation') IS NOT NULL", [f"relation={args.if_relation}"],
                                 args.db) != ["t"]:
        print(json.dumps({"rows": [], "relation": False}))  # not there: the query would only fail
        return
    print(json.dumps({"rows": psql(text, args.var, args.db), "relation": True}))


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
