"""`invoke restore --file=...`: replace an environment's database and filestore from a backup,
without ever losing the ones being replaced, and without trusting the backup.

- checks     what is known before anything changes: versions, collation, free disk
- sandbox    the role a backup's SQL runs as: owns only the side database, can log in nowhere else
- side_load  the side database and filestore, loaded and checked beside the live ones
- swap       the journal, the swap, and putting an interrupted restore right
- run        the steps in order
"""
