"""`invoke restore --to-time/--to-lsn/--to-xid/--latest`: point-in-time recovery.

- target    what to recover to, the recoverable window, which base backup
- server    the temporary server on the recovered volume, followed and checked
- recovery  recovering into a new volume; the filestore filled from the sets
- volumes   which volume holds the live cluster, which replaced ones are kept
- swap      the swap by volume name, its journal, the roll-back
- run       the steps in order
"""
