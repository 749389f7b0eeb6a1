"""The odoo image's scripts (odoo/bin) and their shared package (odoo/lib/dfr_odoo) for the tests.

The scripts are run as real programs (subprocess) or loaded as modules from their files; passlib
is the one library they need beyond the standard library (Debian's python3-passlib in the image).
"""
import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ODOO = Path(__file__).resolve().parents[4] / "odoo"
if str(ODOO / "lib") not in sys.path:
    sys.path.insert(0, str(ODOO / "lib"))


def load_script(name):
    """odoo/bin/NAME as a module (its main() is not run)."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(ODOO / "bin" / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def shared_dir():
    """A folder uid 1000 can write to: dfr-odoo-config writes as uid 1000 when run as root."""
    folder = tempfile.mkdtemp(prefix="dfr-odoo-test-")
    os.chmod(folder, 0o777)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
