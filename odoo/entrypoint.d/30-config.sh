# Render odoo.conf from the environment and /etc/odoo/conf.d/*.conf (see dfr-odoo-config).
( umask 077 && dfr-odoo-config "$ODOO_RC" ) || die "could not render $ODOO_RC"
log "rendered $ODOO_RC"
# From here on the secrets live only in the config file.
unset DB_PASSWORD ODOO_ADMIN_PASSWD SMTP_PASSWORD
