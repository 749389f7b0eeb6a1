"""Helpers shared by the image's scripts (dfr-odoo-config, dfr-odoo-modules, dfr-odoo-admin,
dfr-odoo-release): installed as /usr/local/lib/dfr_odoo, found next to the scripts' bin/ folder."""
