#!/bin/bash
# dfr-deploy PostgreSQL entrypoint. Follows the official postgres image's
# contract (POSTGRES_USER, POSTGRES_PASSWORD[_FILE], POSTGRES_DB,
# POSTGRES_INITDB_ARGS, PGDATA, /docker-entrypoint-initdb.d) with stricter
# safety rules: never initdb over anything, refuse an empty password, refuse a
# data directory of another major version. See README.md.
set -euo pipefail

# The image's settings (and files mounted next to them) are read-only; each start copies them,
# with the settings rendered from the environment, into a folder under /run (a tmpfs: the
# container's root file system is read-only).
readonly CONF_SRC=/etc/postgresql/dfr.conf.d
readonly RUN_DIR=/run/dfr-postgres
readonly CONF_DIR=$RUN_DIR/conf.d
readonly INCLUDE_LINE="include_dir = '$CONF_DIR'"
readonly OLD_INCLUDE_LINE="include_dir = '$CONF_SRC'"
# Secret files are bind mounts of root-only host files: root copies them here for postgres.
readonly SECRETS_DIR=$RUN_DIR/secrets
# Present while the first-time initialisation runs; if it survives (crash,
# failing init script) the next start refuses instead of silently serving a
# half-initialised cluster.
readonly INIT_MARKER=.dfr-init-incomplete
readonly SOCKET_DIR=/var/run/postgresql

log() { echo "docker-entrypoint: $*"; }
die() { echo "docker-entrypoint: ERROR: $*" >&2; exit 1; }

# file_env VAR: VAR may be given directly or as VAR_FILE (docker secrets).
# Read with builtins only, so the value never appears on a command line.
file_env() {
    local var=$1 fvar="${1}_FILE" val=''
    if [[ -n ${!var:-} && -n ${!fvar:-} ]]; then
        die "both $var and $fvar are set; set only one of them"
    fi
    if [[ -n ${!fvar:-} ]]; then
        [[ -r ${!fvar} ]] || die "$fvar=${!fvar} is not a readable file"
        val=$(< "${!fvar}")
    else
        val=${!var:-}
    fi
    # A shell variable, not exported: the temporary server and the tools started during
    # initialisation do not inherit it (run_init_scripts exports it to the init scripts only).
    export -n "$var" 2>/dev/null || true
    printf -v "$var" '%s' "$val"
    unset "$fvar"
}

setup_env() {
    : "${PG_MAJOR:?PG_MAJOR must be set (the image sets it)}"
    export PGDATA=${PGDATA:-/var/lib/postgresql/data}
    export POSTGRES_USER=${POSTGRES_USER:-postgres}
    export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
    export WAL_ARCHIVE_DIR=${WAL_ARCHIVE_DIR:-/wal_archive}
    # Secrets stay in files: as root, *_FILE (root-only bind mounts) are copied for postgres,
    # and only the postgres-owned process reads them (file_env), never its environment.
    if [[ $(id -u) == 0 ]]; then
        stage_secret POSTGRES_PASSWORD
        stage_secret DFR_DB_PASSWORD
    else
        file_env POSTGRES_PASSWORD
        file_env DFR_DB_PASSWORD
    fi
    # POSTGRES_USER is written into pg_ident.conf: keep it a plain name.
    [[ $POSTGRES_USER =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] ||
        die "POSTGRES_USER='$POSTGRES_USER' is not a plain role name (letters, digits, _; max 63)"
}

# stage_secret VAR: copy the file VAR_FILE names into SECRETS_DIR, owned by postgres, and
# point VAR_FILE there (runs as root, which may read the root-only bind mount).
stage_secret() {
    local var=$1 fvar="${1}_FILE"
    [[ -n ${!fvar:-} ]] || return 0
    [[ -r ${!fvar} ]] || die "$fvar=${!fvar} is not a readable file"
    install -d -o postgres -g postgres -m 0700 "$SECRETS_DIR"
    install -o postgres -g postgres -m 0600 "${!fvar}" "$SECRETS_DIR/$var"
    export "$fvar=$SECRETS_DIR/$var"
}

# Runs as root: create directories and give them to postgres, so named
# volumes (created root-owned) and restored archives just work.
prepare_dirs_as_root() {
    local d
    mkdir -p "$PGDATA" "$WAL_ARCHIVE_DIR" "$SOCKET_DIR"
    chmod 2777 "$SOCKET_DIR"
    for d in "$PGDATA" "$WAL_ARCHIVE_DIR"; do
        # only touch what is wrong: cheap on a large data directory
        find "$d" \! -user postgres -exec chown postgres:postgres {} + ||
            die "cannot give $d to user postgres (read-only or root-squashed mount?)"
    done
    install -d -o postgres -g postgres -m 0755 "$RUN_DIR"
    chown postgres:postgres "$SOCKET_DIR"
    chmod 700 "$PGDATA"
    chmod u+rwx "$WAL_ARCHIVE_DIR"
}

# Sets INIT_NEEDED=true for an empty PGDATA, false for our cluster; dies
# otherwise. (Not used as an "if" condition: that would disable set -e in it.)
check_pgdata() {
    local v contents
    INIT_NEEDED=false
    if [[ -f $PGDATA/PG_VERSION ]]; then
        v=$(< "$PGDATA/PG_VERSION")
        [[ $v == "$PG_MAJOR" ]] ||
            die "PGDATA=$PGDATA holds a PostgreSQL $v cluster but this image runs PostgreSQL $PG_MAJOR; use an image built with PG_MAJOR=$v, or dump/restore (or pg_upgrade) the data first - refusing to start"
        [[ ! -e $PGDATA/$INIT_MARKER ]] ||
            die "PGDATA=$PGDATA: the first-time initialisation did not finish (see the earlier log); nothing was served from it - empty the data volume to retry, or remove $PGDATA/$INIT_MARKER if you completed it by hand"
        return 0
    fi
    contents=$(ls -A "$PGDATA")
    [[ -z $contents ]] ||
        die "PGDATA=$PGDATA is not empty but has no PG_VERSION, so it is not a PostgreSQL data directory; refusing to initdb over it - check the volume, empty it, or set PGDATA to an empty subdirectory (needed if the mount contains lost+found)"
    INIT_NEEDED=true
}

# check NAME VALUE REGEX WHAT: values are written into a config file, so
# only accept plain numbers/sizes (no quotes, newlines, extra settings).
check() {
    [[ $2 =~ $3 ]] || die "$1=${2@Q} is not a valid $4 - fix the environment variable"
}

# (Re)written at every start so environment changes apply on restart.
render_settings() {
    local size='^[0-9]+(B|kB|MB|GB|TB)?$'
    local max_conn=${POSTGRES_MAX_CONNECTIONS:-100}
    local shared_buffers=${POSTGRES_SHARED_BUFFERS:-128MB}
    local cache=${POSTGRES_EFFECTIVE_CACHE_SIZE:-512MB}
    local work_mem=${POSTGRES_WORK_MEM:-4MB}
    local maint=${POSTGRES_MAINTENANCE_WORK_MEM:-64MB}
    local wal_buffers=${POSTGRES_WAL_BUFFERS:--1}
    local archive_timeout=${POSTGRES_ARCHIVE_TIMEOUT:-300}
    local max_wal=${POSTGRES_MAX_WAL_SIZE:-1GB}
    check POSTGRES_MAX_CONNECTIONS "$max_conn" '^[0-9]+$' 'integer'
    check POSTGRES_SHARED_BUFFERS "$shared_buffers" "$size" 'size (e.g. 128MB)'
    check POSTGRES_EFFECTIVE_CACHE_SIZE "$cache" "$size" 'size (e.g. 512MB)'
    check POSTGRES_WORK_MEM "$work_mem" "$size" 'size (e.g. 4MB)'
    check POSTGRES_MAINTENANCE_WORK_MEM "$maint" "$size" 'size (e.g. 64MB)'
    check POSTGRES_WAL_BUFFERS "$wal_buffers" '^(-1|[0-9]+(B|kB|MB|GB|TB)?)$' 'size or -1 (e.g. 16MB)'
    check POSTGRES_ARCHIVE_TIMEOUT "$archive_timeout" '^[0-9]+(ms|s|min|h|d)?$' 'duration (seconds, or e.g. 5min)'
    check POSTGRES_MAX_WAL_SIZE "$max_wal" "$size" 'size (e.g. 1GB)'

    mkdir -p "$CONF_DIR"
    rm -f "$CONF_DIR"/*.conf
    cp -L "$CONF_SRC"/*.conf "$CONF_DIR"/ || die "cannot copy the settings of $CONF_SRC into $CONF_DIR"
    local out=$CONF_DIR/50-env.conf tmp
    tmp=$(mktemp "$CONF_DIR/.50-env.conf.XXXXXX") || die "cannot write to $CONF_DIR"
    cat > "$tmp" <<EOF
# GENERATED by docker-entrypoint.sh at every container start from the
# environment - do not edit (edits are lost); put overrides in 90-*.conf.
max_connections = $max_conn
shared_buffers = '$shared_buffers'
effective_cache_size = '$cache'
work_mem = '$work_mem'
maintenance_work_mem = '$maint'
wal_buffers = '$wal_buffers'
archive_timeout = '$archive_timeout'
max_wal_size = '$max_wal'
EOF
    chmod 644 "$tmp"
    mv -f "$tmp" "$out"
}

# include_dir is how our settings reach the server: add it if missing (also
# to clusters restored from elsewhere or edited by hand).
ensure_include() {
    local conf=$PGDATA/postgresql.conf
    if grep -qxF "$OLD_INCLUDE_LINE" "$conf"; then
        log "moving the include of the dfr settings to $CONF_DIR in $conf"
        sed -i "s|^$OLD_INCLUDE_LINE\$|$INCLUDE_LINE|" "$conf"
    fi
    if ! grep -qxF "$INCLUDE_LINE" "$conf"; then
        log "adding \"$INCLUDE_LINE\" to $conf"
        printf '\n# dfr-deploy settings (added by docker-entrypoint.sh)\n%s\n' "$INCLUDE_LINE" >> "$conf"
    fi
}

# Restore sandboxes (dfr-deploy's `invoke restore`): a backup's SQL runs as a role that is a
# member of dfr_restorers and named like the side database it owns; it may log in to that
# database only. Kept in every cluster's pg_hba.conf, before the rules for everyone.
readonly SANDBOX_HBA="host    samerole     +dfr_restorers  all  scram-sha-256
host    all          +dfr_restorers  all  reject"

write_hba() {
    cat > "$PGDATA/pg_hba.conf" <<EOF
# Written by docker-entrypoint.sh at initialisation (kept afterwards).
# Unix socket: peer, i.e. OS user = role name, plus the map below that lets
# the OS users postgres and root (docker exec) act as the superuser.
# TCP: always a scram-sha-256 password.
# TYPE  DATABASE     USER  ADDRESS     METHOD
local   all          all               peer map=dfr
local   replication  all               peer map=dfr
$SANDBOX_HBA
host    all          all   0.0.0.0/0   scram-sha-256
host    all          all   ::/0        scram-sha-256
host    replication  all   0.0.0.0/0   scram-sha-256
host    replication  all   ::/0        scram-sha-256
EOF
    cat > "$PGDATA/pg_ident.conf" <<EOF
# Written by docker-entrypoint.sh at initialisation (kept afterwards).
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
dfr        /^(.*)\$          \1
dfr        postgres         $POSTGRES_USER
dfr        root             $POSTGRES_USER
EOF
}

# Clusters made before the sandbox rules get them at the next start, before the first TCP rule.
ensure_hba() {
    local hba=$PGDATA/pg_hba.conf tmp
    grep -q '^host .*+dfr_restorers' "$hba" && return 0
    log "adding the restore sandbox rules to $hba"
    tmp=$(mktemp "$PGDATA/.pg_hba.conf.XXXXXX")
    awk -v rules="$SANDBOX_HBA" '!done && /^(host|hostssl|hostnossl)[ \t]/ { print rules; done = 1 } { print }
        END { if (!done) print rules }' "$hba" > "$tmp"
    chmod 600 "$tmp"
    mv -f "$tmp" "$hba"
}

# psql as the superuser over the unix socket (peer auth, no password).
psql_su() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --host="$SOCKET_DIR" \
        --username="$POSTGRES_USER" "$@"
}

run_init_scripts() {
    local f
    # Conveniences for init scripts: plain "psql" reaches the temp server. The passwords are
    # part of the image's init-script contract: exported to them, and only to them.
    export PGHOST=$SOCKET_DIR PGPORT=5432 PGUSER=$POSTGRES_USER PGDATABASE=$POSTGRES_DB
    export POSTGRES_PASSWORD DFR_DB_PASSWORD
    shopt -s nullglob
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh)
                # shellcheck disable=SC1090  # sourcing is the contract
                if [[ -x $f ]]; then log "running $f"; "$f"
                else log "sourcing $f"; . "$f"; fi ;;
            *.sql)    log "running $f"; psql_su --dbname="$POSTGRES_DB" -f "$f" ;;
            *.sql.gz) log "running $f"; gzip -dc "$f" | psql_su --dbname="$POSTGRES_DB" ;;
            *)        log "ignoring $f" ;;
        esac
    done
    shopt -u nullglob
    unset PGHOST PGPORT PGUSER PGDATABASE
    export -n POSTGRES_PASSWORD DFR_DB_PASSWORD
}

init_cluster() {
    [[ -n $POSTGRES_PASSWORD ]] ||
        die "POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is empty - refusing to initialise a database without a superuser password"
    [[ $POSTGRES_PASSWORD != *$'\n'* ]] || die "POSTGRES_PASSWORD must be a single line"
    # Same check as 10-dfr-role-db.sh, done before initdb so a missing
    # password does not leave a half-initialised volume behind.
    if [[ -e /docker-entrypoint-initdb.d/10-dfr-role-db.sh && -z $DFR_DB_PASSWORD &&
          ${DFR_DB_USER:-odoo} != "$POSTGRES_USER" ]]; then
        die "DFR_DB_PASSWORD (or DFR_DB_PASSWORD_FILE) is empty - the application role '${DFR_DB_USER:-odoo}' needs a password; refusing to initialise"
    fi
    log "initialising a new PostgreSQL $PG_MAJOR cluster in $PGDATA"

    # The password goes to initdb through a private temp file, never argv.
    local extra=()
    PWFILE=$(mktemp)   # mode 0600, owned by postgres
    trap 'rm -f "$PWFILE"' EXIT
    printf '%s\n' "$POSTGRES_PASSWORD" > "$PWFILE"
    # Split on whitespace (no shell quoting/eval: nothing gets executed).
    read -ra extra <<< "${POSTGRES_INITDB_ARGS:-}"
    # Defaults first so POSTGRES_INITDB_ARGS can override them. Checksums:
    # detect silent storage corruption (the data must never be lost).
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$PWFILE" \
        --encoding=UTF8 --locale=C.UTF-8 --data-checksums \
        --auth-local=peer --auth-host=scram-sha-256 "${extra[@]}"
    rm -f "$PWFILE"
    trap - EXIT
    touch "$PGDATA/$INIT_MARKER"

    write_hba
    ensure_include

    # Temporary server: unix socket only, so nothing (healthcheck, Odoo) can
    # connect over TCP before the init scripts have finished.
    pg_ctl --pgdata="$PGDATA" -w -t 120 -o "-c listen_addresses='' -p 5432" start
    # If an init script fails, still shut the temp server down cleanly.
    trap 'pg_ctl --pgdata="$PGDATA" -m fast -w -t 60 stop || true' EXIT

    psql_su --dbname=postgres -v db="$POSTGRES_DB" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') AS db_missing \gset
\if :db_missing
CREATE DATABASE :"db";
\endif
SQL
    run_init_scripts

    pg_ctl --pgdata="$PGDATA" -m fast -w -t 120 stop
    trap - EXIT
    rm -f "$PGDATA/$INIT_MARKER"
    log "initialisation complete"
}

main() {
    # "docker run image -c foo=bar" means postgres options.
    if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
    # Anything else (bash, psql, ...) runs as is.
    if [[ ${1:-} != postgres ]]; then exec "$@"; fi

    setup_env
    if [[ $(id -u) == 0 ]]; then
        prepare_dirs_as_root
        # Re-run this script as postgres (setpriv: util-linux, no gosu needed).
        export HOME=/var/lib/postgresql
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi

    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    render_settings
    check_pgdata
    if [[ $INIT_NEEDED == true ]]; then
        init_cluster
    else
        log "PostgreSQL $PG_MAJOR data found in $PGDATA; skipping initialisation"
        ensure_include
        ensure_hba
    fi

    # The server needs no passwords; keep them out of its environment and off the disk.
    unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE DFR_DB_PASSWORD DFR_DB_PASSWORD_FILE
    rm -rf "$SECRETS_DIR"
    # exec: postgres becomes PID 1 and receives docker stop's SIGINT directly.
    exec "$@"
}

main "$@"
