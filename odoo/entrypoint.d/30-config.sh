# As root: render odoo.conf (0600, uid 1000) from the environment, /etc/odoo/conf.d/*.conf and
# the secret files (*_FILE); staging and production refuse missing or weak secrets (exit 78).
# See dfr-odoo-config. Nothing secret passes through this shell.
dfr-odoo-config "$ODOO_RC" || exit $?
log "rendered $ODOO_RC"
