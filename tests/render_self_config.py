#!/usr/bin/env python3
"""Re-render this repository's config/*.env from the template and tests/fixtures/self-answers.yml
(run after changing config/*.env.jinja or copier.yml; tests/unit/template checks they agree)."""
import shutil
import tempfile
from pathlib import Path

import copier
import yaml

ROOT = Path(__file__).resolve().parent.parent
answers = yaml.safe_load((ROOT / "tests/fixtures/self-answers.yml").read_text())
with tempfile.TemporaryDirectory() as tmp:
    copier.run_copy(str(ROOT), tmp, data=answers, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
    for name in ("devel", "staging", "prod"):
        shutil.copy(Path(tmp) / "config" / f"{name}.env", ROOT / "config" / f"{name}.env")
        print(f"rendered config/{name}.env")
