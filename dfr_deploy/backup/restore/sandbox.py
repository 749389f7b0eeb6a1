"""The role a backup's SQL runs as.

A backup may come from anyone (a vendor, a partner country, a bucket others can write) and its
SQL is code. It is run by a role made for this one restore: it owns only the side database,
is no superuser and can create nothing outside it, and the postgres image's pg_hba.conf lets
members of `dfr_restorers` log in only to the database that carries their own name (`samerole`),
so it cannot even connect to the live database. Once the copy is loaded and checked, the
superuser hands every object to the application role (REASSIGN OWNED runs no user-defined
code) and drops the sandbox role.
"""
import json
import secrets

from ...errors import DfrError
from ...passwords import scram_verifier
from ..runner import Role

GROUP = "dfr_restorers"
# The sandbox rules are in force, in this order: its members may log in to the database named
# like them, are rejected everywhere else, and only then come the rules for everyone.
HBA_SQL = """
WITH r AS (SELECT line_number, database, user_name, auth_method FROM pg_hba_file_rules
           WHERE error IS NULL AND type = 'host'),
     own AS (SELECT min(line_number) AS n FROM r WHERE database = '{samerole}'
             AND user_name = ARRAY['+' || :'group'] AND auth_method = 'scram-sha-256'),
     reject AS (SELECT min(line_number) AS n FROM r WHERE database = '{all}'
                AND user_name = ARRAY['+' || :'group'] AND auth_method = 'reject'),
     everyone AS (SELECT min(line_number) AS n FROM r WHERE user_name = ARRAY['all'])
SELECT coalesce(own.n < reject.n AND reject.n < coalesce(everyone.n, reject.n + 1), false)
FROM own, reject, everyone
"""


def check_rules(env, catalog):
    """The server must carry the sandbox rules (the image's entrypoint writes them at start)."""
    if catalog.sql(HBA_SQL, {"group": GROUP}, "reading the server's pg_hba rules") != "t":
        raise DfrError(f"the database server of {env.name} lacks the restore sandbox rules in pg_hba.conf: "
                       f"restart it with the current postgres image (`invoke deploy --env={env.name}`) and retry; "
                       "nothing was changed")


def create(catalog, name, collate):
    """A login role `name` and a database `name` it owns (nothing else); returns the Role."""
    password = secrets.token_urlsafe(32)
    # The verifier is sent inside the SQL text on psql's stdin (not argv); its characters are
    # base64 plus $ and :, nothing that could end the literal.
    verifier = scram_verifier(password)
    # One psql run, each statement in its own transaction (CREATE DATABASE cannot be in one).
    catalog.sql(f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{GROUP}') THEN CREATE ROLE {GROUP} NOLOGIN; END IF;
END $$;
CREATE ROLE :"name" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  CONNECTION LIMIT 32 IN ROLE {GROUP} PASSWORD '{verifier}';
CREATE DATABASE :"name" OWNER :"name" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE :'collate' LC_CTYPE :'ctype';
""", {"name": name, "collate": collate[0], "ctype": collate[1]}, f"creating the restore role and side database {name}")
    return Role(name, password)


TERMINATE_SQL = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                 " WHERE datname IN (SELECT json_array_elements_text(:'names'::json)) AND pid <> pg_backend_pid()")


def terminate(catalog, *databases):
    """Close every session of the named databases (one query)."""
    catalog.sql(TERMINATE_SQL, {"names": json.dumps(list(databases))}, f"closing the sessions of {', '.join(databases)}")


def hand_over(catalog, name, owner):
    """Every object of the side database to the application role, then the role dropped (one
    psql run inside the side database; none of these statements runs user-defined code, and
    the superuser's search_path holds only pg_catalog)."""
    catalog.in_database(name, TERMINATE_SQL + """;
REASSIGN OWNED BY :"role" TO :"owner";
DROP OWNED BY :"role";
ALTER DATABASE :"role" OWNER TO :"owner";
DROP ROLE :"role";""", {"role": name, "owner": owner, "names": json.dumps([name])},
                        "handing the restored copy to the application role")


def drop(catalog, name):
    """Drop a side database and its role, whatever state they are in (both may be gone)."""
    if catalog.exists(name):
        terminate(catalog, name)
        catalog.sql('DROP DATABASE IF EXISTS :"name"', {"name": name}, f"dropping {name}")
    catalog.sql('DROP ROLE IF EXISTS :"name"', {"name": name}, f"dropping the role {name}")
