"""Making backup sets: the logical set (pg_dump + filestore) and the base backup (pg_basebackup +
filestore, the start of point-in-time recovery), and the steps they share."""
