"""Backups that are never silently bad, and restores that never lose the database they replace.

One module per job, so point-in-time recovery (base backups + WAL) reuses the same pieces:

- settings   where sets live and the BACKUP_* options of an environment
- lock       one operation at a time per environment (backup, restore, prune, PITR)
- manifest   what a set holds (Odoo's manifest keys + ours), SHA-256 per file, load/verify
- publish    temporary name -> fsync -> verify -> atomic rename
- crypto     age recipients and identities
- offsite    rclone copy + checksum comparison
- retention  grandfather-father-son by the manifest's timestamp
- tools      the backup-tools container and the stack's psql
- logical    `invoke backup` (pg_dump directory format + zstd, filestore after the dump)
- formats    what a file given to restore is (our set, Odoo zip, pg_dump custom or SQL)
- restore    `invoke restore` (side database, swap, rollback, neutralize)
- odoo_zip   `invoke backup-export --format=odoo-zip`
- listing    `invoke backups`
"""
