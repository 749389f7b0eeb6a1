# Wait for PostgreSQL with exponential backoff (0.5 s, 1 s, 2 s ... capped at 8 s) for at most
# WAIT_DB_TIMEOUT seconds (default 60), then fail naming host and port.
wait_postgres() {
    local host=${DB_HOST:-db} port=${DB_PORT:-5432} limit=${WAIT_DB_TIMEOUT:-60}
    [[ "$limit" =~ ^[0-9]+$ ]] || die "WAIT_DB_TIMEOUT must be a number of seconds, not '$limit'"
    local start=$SECONDS delay=0.5 attempt=0
    while true; do
        attempt=$((attempt + 1))
        if pg_isready -q -h "$host" -p "$port" -t 3; then
            log "PostgreSQL at $host:$port is ready (attempt $attempt, $((SECONDS - start)) s)"
            return 0
        fi
        if [ $((SECONDS - start)) -ge "$limit" ]; then
            die "PostgreSQL at $host:$port did not accept connections within $limit s; check that the database service is running and DB_HOST/DB_PORT are right" 69
        fi
        log "waiting for PostgreSQL at $host:$port (attempt $attempt, $((SECONDS - start))/$limit s)"
        sleep "$delay"
        delay=$(awk -v d="$delay" 'BEGIN { d = d * 2; if (d > 8) d = 8; print d }')
    done
}
wait_postgres
