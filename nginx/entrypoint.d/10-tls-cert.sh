#!/usr/bin/env bash
# Chooses the TLS certificate nginx serves, by TLS_MODE, and writes the choice to $STATE for
# 20-render-config.sh. Run at start, and again by dfr-tls-watch when the certificate changes.
#   (unset)      the pair mounted at TLS_CERT_FILE/TLS_KEY_FILE when present, else self-signed
#   self-signed  a self-signed certificate (generated once, then reused from /var/lib/nginx/tls/)
#   files        the mounted pair (e.g. from a government PKI): missing, unreadable or mismatched
#                files stop the container with one line
#   acme         the acme service's current pair (ACME_CERT_DIR: fullchain.pem, privkey.pem),
#                checked and copied to /run/dfr-nginx/tls/ so nginx always loads a pair that
#                belongs together; until the first one arrives, a self-signed placeholder
#                (nginx never waits for, or fails because of, the certificate authority)
set -euo pipefail

STATE=/run/dfr-nginx/tls.env
SERVED_DIR=/run/dfr-nginx/tls          # tmpfs: the checked copy of the ACME pair
GEN_DIR=/var/lib/nginx/tls
GEN_CERT="$GEN_DIR/fullchain.pem"
GEN_KEY="$GEN_DIR/privkey.pem"
GEN_NAMES="$GEN_DIR/names"     # names the generated cert was made for
TLS_MODE="${TLS_MODE:-}"
ACME_CERT_DIR="${ACME_CERT_DIR:-/var/lib/dfr-acme/certs/live}"
mkdir -p "$(dirname "$STATE")"

say() { echo "10-tls-cert: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

write_state() {
    printf 'NGINX_TLS_CERT=%q\nNGINX_TLS_KEY=%q\n' "$1" "$2" > "$STATE.tmp"
    mv -f "$STATE.tmp" "$STATE"
}

describe() {  # subject, issuer and expiry of a certificate, on one line
    openssl x509 -in "$1" -noout -subject -issuer -enddate 2>/dev/null | paste -sd ' '
}

pair_problem() {  # pair_problem CERT KEY: prints what is wrong with the pair (nothing when fine)
    local f cert_pub key_pub
    for f in "$1" "$2"; do
        [ -r "$f" ] || { echo "$f is missing or unreadable"; return; }
    done
    cert_pub=$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null) || { echo "$1 is not a PEM certificate"; return; }
    key_pub=$(openssl pkey -in "$2" -pubout 2>/dev/null) || { echo "$2 is not a PEM private key"; return; }
    [ "$cert_pub" = "$key_pub" ] || echo "the key $2 does not belong to the certificate $1"
}

self_signed() {
    # Names: every server name (wildcards are fine in a SAN), plus localhost and 127.0.0.1 for
    # local access and probes. (Checked again in 20-render-config.sh; checked here too because
    # they go into an openssl config file.)
    local names name entry san="" cn="" conf
    read -ra names <<< "$NGINX_SERVER_NAME"
    for name in "${names[@]}" localhost 127.0.0.1; do
        [[ "$name" =~ ^[A-Za-z0-9.*_:-]+$ ]] || die "invalid server name '$name'"
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

    # Reuse the previous one while it is valid for 30 more days and has the same names;
    # otherwise (first start, expiry, renamed site) make a new one.
    if [ -s "$GEN_CERT" ] && [ -s "$GEN_KEY" ] \
       && [ "$(cat "$GEN_NAMES" 2>/dev/null)" = "$san" ] \
       && openssl x509 -in "$GEN_CERT" -noout -checkend 2592000 >/dev/null; then
        say "using SELF-SIGNED certificate $GEN_CERT (reused; $san)"
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
        say "using SELF-SIGNED certificate $GEN_CERT (new; $san)"
    fi
    write_state "$GEN_CERT" "$GEN_KEY"
}

use_mounted() {
    local problem
    problem=$(pair_problem "$TLS_CERT_FILE" "$TLS_KEY_FILE")
    [ -z "$problem" ] || die "$problem (mount both TLS_CERT_FILE and TLS_KEY_FILE: with TLS_MODE=files," \
                             "fullchain.pem and privkey.pem in TLS_FILES_DIR)"
    say "using MOUNTED certificate $TLS_CERT_FILE ($(describe "$TLS_CERT_FILE"))"
    openssl x509 -in "$TLS_CERT_FILE" -noout -checkend 0 >/dev/null \
        || say "WARNING: $TLS_CERT_FILE has EXPIRED: browsers refuse it; install the renewed one"
    write_state "$TLS_CERT_FILE" "$TLS_KEY_FILE"
}

use_acme() {
    local cert="$ACME_CERT_DIR/fullchain.pem" key="$ACME_CERT_DIR/privkey.pem" problem
    if [ ! -e "$cert" ] && [ ! -e "$key" ]; then
        say "no ACME certificate yet in $ACME_CERT_DIR: serving a self-signed placeholder until the acme service has one"
        self_signed
        return
    fi
    # Copied first, then the copies checked: what nginx loads is exactly the pair checked,
    # even if the acme service swaps its certificate meanwhile.
    mkdir -p "$SERVED_DIR"
    chmod 0700 "$SERVED_DIR"
    rm -f "$SERVED_DIR/fullchain.pem.new" "$SERVED_DIR/privkey.pem.new"
    if (umask 077 && cp "$cert" "$SERVED_DIR/fullchain.pem.new" 2>/dev/null \
                  && cp "$key" "$SERVED_DIR/privkey.pem.new" 2>/dev/null); then
        problem=$(pair_problem "$SERVED_DIR/fullchain.pem.new" "$SERVED_DIR/privkey.pem.new")
        problem="${problem//$SERVED_DIR\//}"     # said as the acme service names them
        problem="${problem//.pem.new/.pem}"
    else
        problem="fullchain.pem or privkey.pem is missing or unreadable"
    fi
    if [ -n "$problem" ]; then
        rm -f "$SERVED_DIR/fullchain.pem.new" "$SERVED_DIR/privkey.pem.new"
        # Never make things worse: a broken or half-written pair is not served.
        if [ -z "$(pair_problem "$SERVED_DIR/fullchain.pem" "$SERVED_DIR/privkey.pem")" ]; then
            say "the ACME certificate in $ACME_CERT_DIR is not usable ($problem): keeping the one served so far"
            write_state "$SERVED_DIR/fullchain.pem" "$SERVED_DIR/privkey.pem"
        else
            say "the ACME certificate in $ACME_CERT_DIR is not usable ($problem): serving a self-signed placeholder"
            self_signed
        fi
        return
    fi
    mv -f "$SERVED_DIR/privkey.pem.new" "$SERVED_DIR/privkey.pem"
    mv -f "$SERVED_DIR/fullchain.pem.new" "$SERVED_DIR/fullchain.pem"
    say "using ACME certificate from $ACME_CERT_DIR ($(describe "$SERVED_DIR/fullchain.pem"))"
    openssl x509 -in "$SERVED_DIR/fullchain.pem" -noout -checkend 0 >/dev/null \
        || say "WARNING: the ACME certificate has EXPIRED: see the acme service's log (invoke logs --service=acme)"
    write_state "$SERVED_DIR/fullchain.pem" "$SERVED_DIR/privkey.pem"
}

case "$TLS_MODE" in
    acme)        use_acme ;;
    files)       use_mounted ;;
    self-signed) self_signed ;;
    "")
        # No mode given (the image used on its own): a mounted pair wins, else self-signed.
        # Half a pair is a mistake: fail loudly, don't fall back.
        if [ -e "$TLS_CERT_FILE" ] || [ -e "$TLS_KEY_FILE" ]; then
            use_mounted
        else
            self_signed
        fi
        ;;
    *) die "TLS_MODE='$TLS_MODE' is not valid (use acme, files or self-signed)" ;;
esac
