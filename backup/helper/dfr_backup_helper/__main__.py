"""`python3 -m dfr_backup_helper SUBCOMMAND ...` (the image's /usr/local/bin/dfr-backup-helper)."""
from .cli import main

main()
