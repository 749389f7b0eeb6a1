"""dfr_deploy/images.py: the private build root the real-Odoo tier and benchmarks/static.py build from."""
from pathlib import Path

from dfr_deploy import images

ROOT = Path(__file__).resolve().parents[2]


def test_build_root_copy_holds_what_the_builds_read_and_no_staged_source(tmp_path):
    root = images.copy_build_root(ROOT, tmp_path / "root")
    for service in images.SERVICES:
        assert (root / service / "Dockerfile").is_file(), service
    for name in images.BUILD_FILES:
        assert (root / name).read_bytes() == (ROOT / name).read_bytes()
    staging = root / "odoo" / ".build" / "source"
    assert staging.is_dir() and not any(staging.iterdir())
    assert not list(root.rglob("__pycache__"))


def test_staging_a_source_in_the_copy_leaves_the_project_alone(tmp_path):
    before = sorted(p.name for p in (ROOT / "odoo" / ".build" / "source").iterdir()) \
        if (ROOT / "odoo" / ".build" / "source").is_dir() else None
    root = images.copy_build_root(ROOT, tmp_path / "root")
    source = tmp_path / "odoo-src"
    (source / "odoo").mkdir(parents=True)
    (source / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    images.stage_odoo_source(root, str(source))
    assert any((root / "odoo" / ".build" / "source").iterdir())
    after = sorted(p.name for p in (ROOT / "odoo" / ".build" / "source").iterdir()) \
        if (ROOT / "odoo" / ".build" / "source").is_dir() else None
    assert after == before
