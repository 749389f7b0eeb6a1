"""The real-Odoo tier: the e2e tests of Odoo's behaviour, against images built from a real Odoo
18.0 source tree (ODOO_SOURCE=/path/to/odoo, see DEVELOPERS.md); skipped, with the reason, when
ODOO_SOURCE is not set (CI). Marker: real_odoo.

Images are built once per session under their own registry name (never the product's, never the
stand-in's), from a private copy of the build folders: the working tree's odoo/.build/source keeps
whatever another build staged there. REAL_ODOO_ADDONS chooses the addons kept (default: what these
tests install, which keeps the build and the image small); the rest stay as not-installable stubs.
"""
import os
from pathlib import Path

import pytest

from dfr_deploy import base_image, environments, images

from ..conftest import ROOT, Stack

# REAL_ODOO_REGISTRY: another name when several sessions share one Docker engine
REAL_REGISTRY = os.environ.get("REAL_ODOO_REGISTRY") or "dfr-real-odoo"
HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    # also in pyproject.toml's markers; registered here so --strict-markers accepts it either way
    config.addinivalue_line("markers", "real_odoo: e2e tests against images built from a real Odoo 18.0 "
                                      "source (ODOO_SOURCE); skipped without it")


def pytest_collection_modifyitems(items):
    source = os.environ.get("ODOO_SOURCE", "")
    skip = pytest.mark.skip(reason="real-Odoo tier: set ODOO_SOURCE to an Odoo 18.0 source tree to run it")
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.real_odoo)
            if not source:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def real_build_root(engine, tmp_path_factory):
    """A copy of what the image builds read, so staging the real source touches no shared folder."""
    source = Path(os.environ["ODOO_SOURCE"]).expanduser()
    if not (source / "odoo-bin").exists() or not (source / "odoo" / "release.py").exists():
        pytest.fail(f"ODOO_SOURCE={source} is not an Odoo source tree (no odoo-bin)")
    return images.copy_build_root(ROOT, tmp_path_factory.mktemp("real-odoo-build")), source


@pytest.fixture(scope="session")
def real_images(real_build_root):
    """Build the four images of a variant once per session (layers stay cached across runs), Odoo
    from ODOO_SOURCE: real_images("devel") returns the registry of the images."""
    root, source = real_build_root
    base_image.ensure()
    addons = os.environ.get("REAL_ODOO_ADDONS", "web,contacts,calendar,board")
    built = set()

    def build(variant):
        if variant not in built:
            env = environments.resolve(variant, root=root, overrides={
                "IMAGE_REGISTRY": REAL_REGISTRY, "IMAGE_TAG": variant, "ODOO_ADDONS": addons})
            images.build(env, odoo_source=str(source))
            built.add(variant)
        return REAL_REGISTRY
    return build


@pytest.fixture(scope="module")
def make_real_stack(real_images, tmp_path_factory):
    """Like make_stack, with the real-Odoo images (the stacks run from the working tree)."""
    made = []

    def factory(name, **overrides):
        variant = "devel" if name == "devel" else "prod"
        s = Stack(name, tmp_path_factory.mktemp(name), IMAGE_REGISTRY=real_images(variant), IMAGE_TAG=variant,
                  **overrides)
        made.append(s)
        return s

    yield factory
    for s in made:
        s.remove()


@pytest.fixture(scope="module")
def odoo(make_real_stack):
    """A deployed devel stack of the real Odoo (the shared tests' `odoo`)."""
    s = make_real_stack("devel")
    s.deploy(timeout=900)
    return s
