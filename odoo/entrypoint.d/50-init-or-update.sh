# Server mode only: initialise an empty database with ODOO_INIT_MODULES, or update the
# modules whose code changed since the last start (click-odoo-update style checksums).
if [ "$DFR_ENTRYPOINT_MODE" = server ] && [ "${ODOO_AUTO_UPGRADE:-true}" = true ] && [ -n "${DB_NAME:-}" ]; then
    dfr-odoo-modules sync "$DB_NAME" || die "initialising/updating database $DB_NAME failed (see the log above)"
fi
