"""backup/bin/dfr-backup-helper (a script, no .py) imported as a module for unit tests."""
import importlib.machinery
import importlib.util
from pathlib import Path

HELPER = Path(__file__).resolve().parents[3] / "backup" / "bin" / "dfr-backup-helper"


def load_helper():
    loader = importlib.machinery.SourceFileLoader("dfr_backup_helper", str(HELPER))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


helper = load_helper()
