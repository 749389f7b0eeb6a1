"""The running stack of an environment: its services' containers, starting, stopping and waiting
for them (one health wait for every caller), its database as the superuser sees the catalog, the
Odoo image's own facts, and bringing the whole stack up or down.

- services   containers of a service, stop/start, the one health wait
- database   the db service: up/stop, readiness, catalog SQL as the superuser (postgres db only)
- odoo       Odoo's container: stop/start around a swap, `odoo neutralize`, the image's release
- lifecycle  compose up (deploy), down (stop, purge), logs
- status     what `invoke status` shows
"""
