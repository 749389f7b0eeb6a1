"""The backup image's helper package (backup/helper/dfr_backup_helper) on sys.path for its tests."""
import sys
from pathlib import Path

HELPER = Path(__file__).resolve().parents[4] / "backup" / "helper"
if str(HELPER) not in sys.path:
    sys.path.insert(0, str(HELPER))
