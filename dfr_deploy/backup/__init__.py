"""Backups that are never silently bad, and restores that never lose the database they replace
nor trust the backup they load. Every operation here is entered through the one door
(commands.door), which holds the environment's lock and has run `repair.put_right` first.

Making sets (sets/)
- sets.steps       the run's plan, clean-up on failure, manifest, encryption, publish, after-publish
- sets.logical     `invoke backup` (pg_dump directory format + zstd, filestore after the dump)
- sets.basebackup  `invoke backup --method=basebackup` (pg_basebackup, verified; start of PITR)
- sets.facts       what a set records about the stack
Restoring (restore/, pitr/)
- restore.*        `invoke restore --file`: checks, sandbox role, side load, swap with journal
- pitr.*           `invoke restore --to-time/...`: target and window, temporary server, recovery,
                   volumes, swap with journal
- source           a backup given to an operation: checked, decrypted, mounted for the tools
- guard            the production guard (--force + the typed database name)
- repair           putting every kind of interrupted operation right
Sets on disk
- settings         where sets live and the BACKUP_* options of an environment
- lock             one operation at a time per environment (taken only by the door)
- journal          durable swap journals
- manifest         what a set holds (Odoo's manifest keys + ours), SHA-256 per file, load/verify
- publish          temporary name -> fsync -> verify -> atomic rename
- formats          what a file given to restore is (our set, Odoo zip, pg_dump custom or SQL)
- listing          `invoke backups`
- retention, prune grandfather-father-son by the manifest's time; `invoke backup-prune`
- export           `invoke backup-export --format=odoo-zip`
- crypto, offsite  age recipients/identities; rclone copies checked by checksum
- wal.*            WAL positions and names, the archive volume and its retention, `wal-status`
The backup tools' containers
- runner           one hardened, non-root container of the backup image per step
- helper_cli       the command lines of dfr-backup-helper (the image's step runner)
- mounts           where things are inside those containers, and which uid runs there
- credentials      private per-step password and key files
- roles            the PostgreSQL roles steps log in as
"""
