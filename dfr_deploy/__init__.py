"""dfr-deploy: build, run, back up and restore a Digital Farmer Registry (Odoo 18) stack."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
__version__ = (ROOT / "VERSION").read_text().strip() if (ROOT / "VERSION").exists() else "0.0.0"
