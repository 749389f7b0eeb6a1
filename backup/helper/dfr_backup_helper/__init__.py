"""dfr-backup-helper: the backup and restore steps that run in the backup-tools container.

The steps of `invoke backup` / `invoke restore` that need the PostgreSQL client of the
server's major, zstd, tar, age or rclone run here, one subcommand each.

Each subcommand does one job, checks the exit status of every child process (a pipeline's
too), prints one JSON object on stdout when it succeeds, and exits non-zero with one
`dfr-backup-helper: ...` line on stderr otherwise. Connection settings come from libpq's
PG* variables and PGPASSFILE (never argv). Python standard library only. It runs as an
unprivileged uid (1000, or 999 for the WAL archive), never root: it changes no owner.

Modules, one job each: process (children and their exit codes), durable (fsync), tarstream
(the tar stream parser), unpack + unpack_tar (the one safe unpacker), sqlguard (psql meta-command scanner),
dump, toc (reading a directory dump), loader (restore-db), sqlload (restore-sql/custom),
filestore, files, crypto, export, wal, basebackup, offsite, cli.
"""
