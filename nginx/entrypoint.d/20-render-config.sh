#!/usr/bin/env bash
# Validates the environment, derives the computed settings, renders the
# templates (conf.d + error pages) and checks the result with `nginx -t`.
set -euo pipefail

SHARE=/usr/local/share/dfr-nginx
ERRORS_DIR=/var/lib/nginx/errors   # served by location /_dfr_errors/

die() { echo "20-render-config: ERROR: $*" >&2; exit 1; }
check() {  # check NAME REGEX: values end up inside nginx.conf, so anything
           # unexpected (";", "{", quotes...) is refused, not rendered.
    [[ "${!1}" =~ $2 ]] || die "$1='${!1}' is not valid (expected $2)"
}

# Certificate chosen by 10-tls-cert.sh (falls back to the mounted paths).
# shellcheck disable=SC1091
[ -r /run/dfr-nginx/tls.env ] && . /run/dfr-nginx/tls.env
export NGINX_TLS_CERT="${NGINX_TLS_CERT:-$TLS_CERT_FILE}"
export NGINX_TLS_KEY="${NGINX_TLS_KEY:-$TLS_KEY_FILE}"

read -ra names <<< "$NGINX_SERVER_NAME"      # squeeze whitespace (no globbing)
export NGINX_SERVER_NAME="${names[*]}"
check NGINX_SERVER_NAME '^[A-Za-z0-9.*_:-]+( [A-Za-z0-9.*_:-]+)*$'
check ODOO_HOST '^[A-Za-z0-9._-]+$'
port='^[1-9][0-9]{0,4}$'
check ODOO_HTTP_PORT "$port"
check ODOO_GEVENT_PORT "$port"
check NGINX_HTTPS_PUBLIC_PORT "$port"
check WORKERS '^[0-9]+$'
check NGINX_CLIENT_MAX_BODY_SIZE '^[0-9]+[kKmMgG]?$'
check NGINX_LOGIN_RATE '^[1-9][0-9]*r/[sm]$'
check NGINX_LOGIN_BURST '^[0-9]+$'
check NGINX_API_RATE '^[1-9][0-9]*r/[sm]$'
check NGINX_API_BURST '^[0-9]+$'
check NGINX_DATABASE_MANAGER '^(allow|block)$'
check NGINX_STRICT_HOSTS '^(true|false)$'
check NGINX_HSTS_MAX_AGE '^[0-9]+$'
check NGINX_TLS_CERT '^/[^[:space:];{}$"'"'"']+$'
check NGINX_TLS_KEY '^/[^[:space:];{}$"'"'"']+$'

# Websocket upstream port: Odoo's gevent server only exists with workers.
if [ -z "$ODOO_WEBSOCKET_PORT" ]; then
    if [ "$WORKERS" -gt 0 ]; then
        ODOO_WEBSOCKET_PORT="$ODOO_GEVENT_PORT"
    else
        ODOO_WEBSOCKET_PORT="$ODOO_HTTP_PORT"
    fi
fi
export ODOO_WEBSOCKET_PORT
check ODOO_WEBSOCKET_PORT "$port"

# Redirect target: https://host/... on 443, https://host:PORT/... otherwise.
if [ "$NGINX_HTTPS_PUBLIC_PORT" = 443 ]; then
    export NGINX_HTTPS_PORT_SUFFIX=""
else
    export NGINX_HTTPS_PORT_SUFFIX=":$NGINX_HTTPS_PUBLIC_PORT"
fi

# Resolver: the container's own nameservers (Docker's 127.0.0.11 on a
# user-defined network) unless given. IPv6 addresses need brackets in nginx.
if [ -z "$NGINX_RESOLVER" ]; then
    for ns in $(awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf 2>/dev/null); do
        case "$ns" in
            *%*) continue ;;                     # link-local with zone: unusable
            *:*) ns="[$ns]" ;;
        esac
        NGINX_RESOLVER="${NGINX_RESOLVER:+$NGINX_RESOLVER }$ns"
    done
    if [ -z "$NGINX_RESOLVER" ]; then
        echo "20-render-config: no nameserver in /etc/resolv.conf, using 127.0.0.11" >&2
        NGINX_RESOLVER=127.0.0.11
    fi
fi
export NGINX_RESOLVER
check NGINX_RESOLVER '^[][0-9A-Za-z.:-]+( [][0-9A-Za-z.:-]+)*$'

# Human-readable limit for the 413 page (nginx units are binary: 1m = 1 MiB).
case "$NGINX_CLIENT_MAX_BODY_SIZE" in
    0)            size_human="unlimited" ;;
    *[kK])        size_human="${NGINX_CLIENT_MAX_BODY_SIZE%?} KB" ;;
    *[mM])        size_human="${NGINX_CLIENT_MAX_BODY_SIZE%?} MB" ;;
    *[gG])        size_human="${NGINX_CLIENT_MAX_BODY_SIZE%?} GB" ;;
    *)            size_human="$NGINX_CLIENT_MAX_BODY_SIZE bytes" ;;
esac
export NGINX_CLIENT_MAX_BODY_SIZE_HUMAN="$size_human"

# Strict hosts (staging, production): the site answers only its own names; any other Host
# (or TLS name) gets no answer at all (444; the TLS handshake is refused), so scanners probing
# by IP address learn nothing. Otherwise (development) the site is the default server.
if [ "$NGINX_STRICT_HOSTS" = true ]; then
    export NGINX_DEFAULT_SERVER=""
    NGINX_REJECT_UNKNOWN_HOSTS=$(cat "$SHARE/reject-unknown-hosts.conf")
else
    export NGINX_DEFAULT_SERVER=" default_server"
    NGINX_REJECT_UNKNOWN_HOSTS=""
fi
export NGINX_REJECT_UNKNOWN_HOSTS

# OCSP stapling only for a certificate that names an OCSP responder (public and government CAs
# may; Let's Encrypt stopped in 2025; self-signed never): nginx fetches the response through the
# resolver above and staples it to the handshake. The responses are checked against the system's
# trusted roots (ca-certificates); when nginx cannot fetch or check one it just staples nothing.
ocsp_uri=$(openssl x509 -in "$NGINX_TLS_CERT" -noout -ocsp_uri 2>/dev/null | head -n 1) || ocsp_uri=""
if [ -n "$ocsp_uri" ]; then
    export NGINX_OCSP_STAPLING="ssl_stapling on; ssl_stapling_verify on; ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;"
    echo "20-render-config: OCSP stapling on (responder $ocsp_uri)" >&2
else
    export NGINX_OCSP_STAPLING="# no OCSP stapling: the certificate names no OCSP responder"
fi

# Only these variables are substituted; every other $word is left for nginx.
VARS=(NGINX_SERVER_NAME NGINX_RESOLVER ODOO_HOST ODOO_HTTP_PORT
      ODOO_WEBSOCKET_PORT NGINX_HTTPS_PORT_SUFFIX NGINX_TLS_CERT NGINX_TLS_KEY
      NGINX_CLIENT_MAX_BODY_SIZE NGINX_CLIENT_MAX_BODY_SIZE_HUMAN
      NGINX_LOGIN_RATE NGINX_LOGIN_BURST NGINX_API_RATE NGINX_API_BURST NGINX_HSTS_MAX_AGE
      NGINX_DEFAULT_SERVER NGINX_REJECT_UNKNOWN_HOSTS NGINX_OCSP_STAPLING)
shell_format="$(printf '${%s} ' "${VARS[@]}")"

render() {  # render SRC DEST
    envsubst "$shell_format" < "$1" > "$2.tmp"
    mv -f "$2.tmp" "$2"
}

# Debian's default site would also claim port 80.
rm -f /etc/nginx/sites-enabled/default /etc/nginx/conf.d/default.conf

for tpl in "$SHARE"/templates/*.template; do
    [ -e "$tpl" ] || continue
    out="/etc/nginx/conf.d/$(basename "$tpl" .template)"
    render "$tpl" "$out"
    echo "20-render-config: rendered $out" >&2
done
# The database manager: 404 (block) or proxied to Odoo (allow).
if [ "$NGINX_DATABASE_MANAGER" = block ]; then
    printf '%s\n' "return 404;" > /etc/nginx/conf.d/dfr-database-manager.inc
else
    printf '%s\n' "include /etc/nginx/snippets/dfr-proxy-headers.conf;" 'proxy_pass $odoo_http;' \
        > /etc/nginx/conf.d/dfr-database-manager.inc
fi

mkdir -p "$ERRORS_DIR"
for page in "$SHARE"/errors/*.html; do
    [ -e "$page" ] || continue
    render "$page" "$ERRORS_DIR/$(basename "$page")"
done

echo "20-render-config: server_name '$NGINX_SERVER_NAME', odoo http" \
     "$ODOO_HOST:$ODOO_HTTP_PORT, websocket $ODOO_HOST:$ODOO_WEBSOCKET_PORT" \
     "(WORKERS=$WORKERS), resolver $NGINX_RESOLVER" >&2
nginx -t -q   # prints nothing when fine, the error otherwise
