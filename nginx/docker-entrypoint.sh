#!/usr/bin/env bash
# Entrypoint of the dfr-deploy nginx image (Doodba-style fragments).
#
# Runs every executable /docker-entrypoint.d/NN-*.sh in order, then execs the
# command (default: nginx -g 'daemon off;') so nginx is PID 1 and receives
# Docker's stop signal (SIGQUIT = graceful) directly.
#
# Environment (default in brackets):
#   NGINX_SERVER_NAME           [localhost] server_name(s), space separated;
#                               also the names of the self-signed certificate
#   ODOO_HOST                   [odoo]  Odoo container / DNS name
#   ODOO_HTTP_PORT              [8069]  Odoo HTTP port
#   ODOO_GEVENT_PORT            [8072]  Odoo gevent (websocket) port
#   WORKERS                     [0]     Odoo's worker count: >0 sends /websocket
#                                       to ODOO_GEVENT_PORT, 0 (threaded) to
#                                       ODOO_HTTP_PORT
#   ODOO_WEBSOCKET_PORT         [unset] forces the websocket port
#   NGINX_HTTPS_PUBLIC_PORT     [443]   port in the HTTP->HTTPS redirect
#                                       (omitted when 443; dev uses 8443)
#   NGINX_EXTRA_NAMES           [empty] more names of the site (space or comma
#                               separated; TLS_EXTRA_NAMES of the settings)
#   TLS_MODE                    [empty] acme | files | self-signed; empty = a
#                               mounted pair if present, else self-signed
#                               (see entrypoint.d/10-tls-cert.sh)
#   TLS_CERT_FILE               [/etc/nginx/tls/fullchain.pem] mounted cert
#   TLS_KEY_FILE                [/etc/nginx/tls/privkey.pem]   mounted key;
#                               when absent a self-signed pair is generated in
#                               /var/lib/nginx/tls/ and reused on next starts
#   ACME_CERT_DIR               [/var/lib/dfr-acme/certs/live] the acme
#                               service's pair (TLS_MODE=acme)
#   TLS_WATCH_INTERVAL          [30] seconds between two looks at the
#                               certificate files (acme, files): a changed
#                               pair is checked, then nginx reloads gracefully
#   NGINX_CLIENT_MAX_BODY_SIZE  [100m]  largest request body (uploads)
#   NGINX_LOGIN_RATE            [10r/m] POST /web/login rate per client address
#   NGINX_LOGIN_BURST           [5]     extra logins allowed in a burst
#   NGINX_API_RATE              [5r/s]  JSON-RPC / XML-RPC object calls per client address
#   NGINX_API_BURST             [50]    extra API calls allowed in a burst
#   NGINX_DATABASE_MANAGER      [block] /web/database/: block (404) or allow
#   NGINX_STRICT_HOSTS          [true]  answer only NGINX_SERVER_NAME (444 otherwise)
#   NGINX_HSTS_MAX_AGE          [31536000] Strict-Transport-Security max-age
#   NGINX_RESOLVER              [nameserver(s) of /etc/resolv.conf, i.e.
#                               Docker's 127.0.0.11] DNS used to find Odoo
set -euo pipefail

# Defaults are exported here so that every fragment (a separate process) sees
# the same values.
export NGINX_SERVER_NAME="${NGINX_SERVER_NAME:-localhost}"
export ODOO_HOST="${ODOO_HOST:-odoo}"
export ODOO_HTTP_PORT="${ODOO_HTTP_PORT:-8069}"
export ODOO_GEVENT_PORT="${ODOO_GEVENT_PORT:-8072}"
export WORKERS="${WORKERS:-0}"
export ODOO_WEBSOCKET_PORT="${ODOO_WEBSOCKET_PORT:-}"
export NGINX_HTTPS_PUBLIC_PORT="${NGINX_HTTPS_PUBLIC_PORT:-443}"
export TLS_CERT_FILE="${TLS_CERT_FILE:-/etc/nginx/tls/fullchain.pem}"
export TLS_KEY_FILE="${TLS_KEY_FILE:-/etc/nginx/tls/privkey.pem}"
export NGINX_CLIENT_MAX_BODY_SIZE="${NGINX_CLIENT_MAX_BODY_SIZE:-100m}"
export NGINX_LOGIN_RATE="${NGINX_LOGIN_RATE:-10r/m}"
export NGINX_LOGIN_BURST="${NGINX_LOGIN_BURST:-5}"
export NGINX_HSTS_MAX_AGE="${NGINX_HSTS_MAX_AGE:-31536000}"
export NGINX_API_RATE="${NGINX_API_RATE:-5r/s}"
export NGINX_API_BURST="${NGINX_API_BURST:-50}"
export NGINX_DATABASE_MANAGER="${NGINX_DATABASE_MANAGER:-block}"
export NGINX_STRICT_HOSTS="${NGINX_STRICT_HOSTS:-true}"
export NGINX_RESOLVER="${NGINX_RESOLVER:-}"   # resolved in 20-render-config.sh
export TLS_MODE="${TLS_MODE:-}"
export ACME_CERT_DIR="${ACME_CERT_DIR:-/var/lib/dfr-acme/certs/live}"
export TLS_WATCH_INTERVAL="${TLS_WATCH_INTERVAL:-30}"
# The site answers its extra names too (they are in its certificate).
extra="${NGINX_EXTRA_NAMES:-}"
export NGINX_SERVER_NAME="$NGINX_SERVER_NAME ${extra//,/ }"

# Fragments prepare the nginx configuration; skip them for other commands
# (e.g. `docker run ... bash`) so a broken setting never blocks debugging.
if [ "$#" -eq 0 ] || [ "${1##*/}" = nginx ]; then
    export LC_ALL=C   # deterministic glob order: 10-, 20-, ...
    for fragment in /docker-entrypoint.d/[0-9][0-9]-*.sh; do
        [ -e "$fragment" ] || continue
        if [ ! -x "$fragment" ]; then
            echo "entrypoint: skipping $fragment (not executable)" >&2
            continue
        fi
        echo "entrypoint: running $fragment" >&2
        "$fragment"
    done
fi

if [ "$#" -eq 0 ]; then
    set -- nginx -g 'daemon off;'
fi
# The server itself (not `nginx -t`, `-T` or a shell) with a certificate that changes while it
# runs: a small watcher reloads nginx gracefully when the pair changes (dfr-tls-watch). It
# becomes a child of nginx, which stays PID 1's only child (init: true) and gets the signals.
if [ "$*" = "nginx -g daemon off;" ] && { [ "$TLS_MODE" = acme ] || [ "$TLS_MODE" = files ]; }; then
    /usr/local/bin/dfr-tls-watch < /dev/null &
fi
exec "$@"
