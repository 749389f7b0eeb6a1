"""What the tasks call: one function per task, each a few lines that enter the one door (for
operations that change state) and hand over to the backup or stack layer.

- door     the one door: the environment's lock, named holder, interrupted work put right
- stack    deploy, stop, logs, status, secrets, images
- backup   backup, backups, backup-prune, backup-export, wal-status
- restore  restore (a set, an Odoo zip, a pg_dump file, or a point in time)
- drill    backup-drill (a set or a point in time proved in a throwaway stack)
- jobs     job, schedule, notify (the scheduled jobs and their failure notices)
"""
