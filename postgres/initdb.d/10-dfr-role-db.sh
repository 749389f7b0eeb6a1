#!/bin/bash
# First-time init fragment (run by docker-entrypoint.sh against the
# socket-only temporary server): the Odoo application role and database, and
# the extensions Odoo/DFR use. Safe to run again (idempotent).
set -euo pipefail

DFR_DB_USER=${DFR_DB_USER:-odoo}
DFR_DB_NAME=${DFR_DB_NAME:-dfr}
DFR_DB_LOCALE=${DFR_DB_LOCALE:-C.UTF-8}
POSTGRES_USER=${POSTGRES_USER:-postgres}

# The entrypoint normally resolved DFR_DB_PASSWORD_FILE already (and exports it to init scripts);
# this fallback lets the fragment also work on its own.
if [[ -z ${DFR_DB_PASSWORD:-} && -n ${DFR_DB_PASSWORD_FILE:-} ]]; then
    DFR_DB_PASSWORD=$(< "$DFR_DB_PASSWORD_FILE")
fi
# psql reads it from its environment (\getenv), never from argv.
export DFR_DB_PASSWORD=${DFR_DB_PASSWORD:-}

create_role=on
if [[ $DFR_DB_USER == "$POSTGRES_USER" ]]; then
    echo "10-dfr-role-db.sh: DFR_DB_USER is the superuser '$POSTGRES_USER'; not creating a role"
    create_role=off
elif [[ -z $DFR_DB_PASSWORD ]]; then
    echo "10-dfr-role-db.sh: ERROR: DFR_DB_PASSWORD (or DFR_DB_PASSWORD_FILE) is empty - the application role '$DFR_DB_USER' needs a password" >&2
    exit 1
fi

echo "10-dfr-role-db.sh: role '$DFR_DB_USER', database '$DFR_DB_NAME' ($DFR_DB_LOCALE)"
psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet \
    --host=/var/run/postgresql --username="$POSTGRES_USER" --dbname=postgres \
    -v app_user="$DFR_DB_USER" -v app_db="$DFR_DB_NAME" \
    -v app_locale="$DFR_DB_LOCALE" -v create_role="$create_role" <<'SQL'
-- The password is sent as a literal: make sure no log line can contain it,
-- even if the statement fails.
SET log_statement = 'none';
SET log_min_error_statement = 'panic';

\if :create_role
  \getenv app_password DFR_DB_PASSWORD
  SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') AS role_missing \gset
  \if :role_missing
    CREATE ROLE :"app_user" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION PASSWORD :'app_password';
  \else
    ALTER ROLE :"app_user" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION PASSWORD :'app_password';
  \endif
  \unset app_password
\endif

-- template0: a clean copy, so encoding and locale can be chosen freely.
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') AS db_missing \gset
\if :db_missing
  CREATE DATABASE :"app_db" OWNER :"app_user" TEMPLATE template0
      ENCODING 'UTF8' LC_COLLATE :'app_locale' LC_CTYPE :'app_locale';
\else
  ALTER DATABASE :"app_db" OWNER TO :"app_user";
\endif

-- In template1 too, so databases created later from it (restores,
-- "createdb") have the extensions without superuser rights.
\connect template1
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

\connect :"app_db"
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
SQL
