#!/usr/bin/env bash
# Chooses the TLS certificate: the one mounted at TLS_CERT_FILE/TLS_KEY_FILE,
# else a self-signed one (generated once, then reused from /var/lib/nginx/tls/).
# The choice is written to $STATE for 20-render-config.sh.
set -euo pipefail

STATE=/run/dfr-nginx/tls.env
GEN_DIR=/var/lib/nginx/tls
GEN_CERT="$GEN_DIR/fullchain.pem"
GEN_KEY="$GEN_DIR/privkey.pem"
GEN_NAMES="$GEN_DIR/names"     # names the generated cert was made for
mkdir -p "$(dirname "$STATE")"

write_state() {
    printf 'NGINX_TLS_CERT=%q\nNGINX_TLS_KEY=%q\n' "$1" "$2" > "$STATE"
}

# A mounted pair wins. Half a pair is a mistake: fail loudly, don't fall back.
if [ -e "$TLS_CERT_FILE" ] || [ -e "$TLS_KEY_FILE" ]; then
    for f in "$TLS_CERT_FILE" "$TLS_KEY_FILE"; do
        if [ ! -r "$f" ]; then
            echo "10-tls-cert: ERROR: $f is missing or unreadable" \
                 "(mount both TLS_CERT_FILE and TLS_KEY_FILE, or neither)" >&2
            exit 1
        fi
    done
    subject=$(openssl x509 -in "$TLS_CERT_FILE" -noout -subject -enddate | paste -sd ' ')
    echo "10-tls-cert: using MOUNTED certificate $TLS_CERT_FILE ($subject)" >&2
    write_state "$TLS_CERT_FILE" "$TLS_KEY_FILE"
    exit 0
fi

# Names for the self-signed certificate: every server name (wildcards are fine
# in a SAN), plus localhost and 127.0.0.1 for local access and probes.
# (Names are validated again in 20-render-config.sh; checked here too because
# they go into an openssl config file.)
read -ra names <<< "$NGINX_SERVER_NAME"
san="" cn=""
for name in "${names[@]}" localhost 127.0.0.1; do
    [[ "$name" =~ ^[A-Za-z0-9.*_:-]+$ ]] || {
        echo "10-tls-cert: ERROR: invalid server name '$name'" >&2; exit 1; }
    [ "$name" = _ ] && continue             # nginx catch-all, not a host name
    if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then
        entry="IP:$name"
    else
        entry="DNS:$name"
    fi
    case ",$san," in *",$entry,"*) continue ;; esac   # no duplicates
    san="${san:+$san,}$entry"
    cn="${cn:-${name:0:64}}"                # CN is limited to 64 characters
done

# Reuse the previous one while it is valid for 30 more days and has the same
# names; otherwise (first start, expiry, renamed site) make a new one.
if [ -s "$GEN_CERT" ] && [ -s "$GEN_KEY" ] \
   && [ "$(cat "$GEN_NAMES" 2>/dev/null)" = "$san" ] \
   && openssl x509 -in "$GEN_CERT" -noout -checkend 2592000 >/dev/null; then
    echo "10-tls-cert: using SELF-SIGNED certificate $GEN_CERT (reused; $san)" >&2
else
    mkdir -p "$GEN_DIR"
    chmod 0700 "$GEN_DIR"
    conf=$(mktemp)
    # Own minimal config: Debian's openssl.cnf would mark the cert as a CA.
    cat > "$conf" <<CNF
[req]
distinguished_name = dn
x509_extensions = leaf
prompt = no
[dn]
CN = $cn
O = dfr-deploy self-signed
[leaf]
subjectAltName = $san
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
CNF
    # 825 days: the longest validity Apple/browsers accept for TLS certs.
    (umask 077 && openssl req -x509 -config "$conf" -newkey ec \
        -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 825 \
        -keyout "$GEN_KEY.new" -out "$GEN_CERT.new" 2>/dev/null)
    rm -f "$conf"
    chmod 0600 "$GEN_KEY.new"
    chmod 0644 "$GEN_CERT.new"
    mv -f "$GEN_KEY.new" "$GEN_KEY"
    mv -f "$GEN_CERT.new" "$GEN_CERT"
    printf '%s\n' "$san" > "$GEN_NAMES"
    echo "10-tls-cert: using SELF-SIGNED certificate $GEN_CERT (new; $san)" >&2
fi
write_state "$GEN_CERT" "$GEN_KEY"
