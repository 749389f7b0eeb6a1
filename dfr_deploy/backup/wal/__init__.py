"""The WAL archive: positions and names (names), the archive volume and its retention (archive),
and `invoke wal-status` (status)."""
