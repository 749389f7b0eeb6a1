"""What a drill proves about a restored copy, read as the application role (the data is a
backup's: nothing in it runs as the superuser)."""
from decimal import Decimal

from ...errors import DfrError
from .. import helper_cli, mounts

# Each table's own rows (ONLY: pg_dump dumps every partition as a table of its own), named as
# pg_dump names them in its COPY statements (format('%I.%I')), counted by the server itself.
COUNTS_SQL = r"""
SELECT format('%I.%I', n.nspname, c.relname) || E'\t' ||
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname),
                                            false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
"""


def row_counts(runner, role, db, recorded):
    """Every table the backup recorded has exactly its recorded rows; returns how many tables."""
    found = dict(line.split("\t", 1) for line in runner.query(COUNTS_SQL, role, db, what="counting the rows")
                 if "\t" in line)
    wrong = [(table, count, found.get(table)) for table, count in sorted(recorded.items())
             if str(count) != found.get(table)]
    if wrong:
        table, expected, got = wrong[0]
        raise DfrError(f"table {table} has {got if got is not None else 'no'} rows after the restore, "
                       f"{expected} at backup time" + (f" (and {len(wrong) - 1} more tables differ)" if len(wrong) > 1
                                                       else "") + ": the set does not restore what it recorded")
    return len(recorded)


def attachments(runner, role, db, odoo_volume):
    """Every attachment row's file is in the restored filestore with its SHA-1 (the rows read as
    a restore reads them: as the role, by the container that hashes the files)."""
    result = runner.run("verify-files", helper_cli.verify_files(f"{mounts.FILESTORE}/{db}", db=db),
                        "checking every restored attachment's SHA-1", role=role,
                        volumes=[mounts.volume(odoo_volume, mounts.ODOO_DATA)])
    bad = result["missing"] + result["mismatched"]
    if bad:
        raise DfrError(f"{len(result['missing'])} attachment file(s) missing and {len(result['mismatched'])} with "
                       f"another SHA-1 after the restore (first: {bad[0]})")
    return result["checked"]


def marks_replayed(live, recovered, target_epoch):
    """A point in time: every recovery mark the live cluster committed before the moment is in
    the recovered one, and none after it; returns how many were found. A mark's time is taken
    just before its commit, so the second before the moment is left out of the first check."""
    target = Decimal(str(target_epoch))
    found = {Decimal(m) for m in recovered}
    expected = [Decimal(m) for m in live if Decimal(m) <= target - 1]
    missing = [m for m in expected if m not in found]
    if missing:
        raise DfrError(f"{len(missing)} of {len(expected)} recovery marks committed before the moment are missing "
                       f"from the recovered cluster (first: epoch {missing[0]}): it did not replay everything before "
                       "the target")
    late = sorted(m for m in found if m > target)
    if late:
        raise DfrError(f"the recovered cluster holds a recovery mark of epoch {late[0]}, after the target: "
                       "it replayed past the moment")
    return len(expected)
