"""odoo/bin/dfr-odoo-modules decides which modules to update: the code checksums when they are
recorded, else (a restored Odoo zip or pg_dump file) the manifest versions against the
installed ones, as Odoo.sh does; and it says so in one line."""
import json

import pytest

from dfr_odoo import versions

from .conftest import load_script

modules = load_script("dfr-odoo-modules")


def addon(folder, name, version=None, extra=""):
    path = folder / name
    path.mkdir(parents=True)
    (path / "__init__.py").write_text("")
    manifest = {"name": name, "depends": ["base"]}
    if version is not None:
        manifest["version"] = version
    (path / "__manifest__.py").write_text(repr(manifest) + "\n" + extra)
    return path


@pytest.fixture
def code(tmp_path):
    """Three addons in the image's code: versions 1.1 (adapted 18.0.1.1), 18.0.2.0.1, none (1.0)."""
    return {"farmers": addon(tmp_path, "farmers", "1.1"), "plots": addon(tmp_path, "plots", "18.0.2.0.1"),
            "households": addon(tmp_path, "households")}


@pytest.mark.parametrize("given,stored", [("1.0", "18.0.1.0"), ("1.2.3", "18.0.1.2.3"), ("18.0.1.2", "18.0.1.2"),
                                          ("18.0", "18.0.18.0"), ("18.0.1.2.3", "18.0.1.2.3")])
def test_adapt_version_is_odoos(given, stored):
    assert versions.adapt_version(given, "18.0") == stored


@pytest.mark.parametrize("bad", ["1", "1.a", "v1.0", "1.0.0.0.0", ""])
def test_adapt_version_refuses_what_odoo_refuses(bad):
    with pytest.raises(ValueError):
        versions.adapt_version(bad, "18.0")


def test_without_checksums_only_modules_whose_version_differs_are_updated(code):
    installed = {"farmers": "18.0.1.0", "plots": "18.0.2.0.1", "households": "18.0.1.0", "gone": "18.0.1.0"}
    changed = modules.changed_modules(installed, None, code, "18.0")
    assert changed == {"farmers": "version 18.0.1.0 -> 18.0.1.1"}
    line = modules.decision(changed, None, len(installed))
    assert line.startswith("updating 1 of 4 installed modules (no recorded checksums")
    assert "farmers (version 18.0.1.0 -> 18.0.1.1)" in line and "plots" not in line


def test_without_checksums_and_equal_versions_nothing_is_updated(code):
    installed = {"farmers": "18.0.1.1", "plots": "18.0.2.0.1", "households": "18.0.1.0"}
    changed = modules.changed_modules(installed, None, code, "18.0")
    assert changed == {}
    assert "nothing to update" in modules.decision(changed, None, 3)


def test_with_checksums_only_modules_whose_code_changed_are_updated(code):
    installed = {"farmers": "18.0.0.9", "plots": "18.0.2.0.1", "households": "18.0.1.0"}
    stored = {name: modules.checksum(path) for name, path in code.items()}
    assert modules.changed_modules(installed, stored, code, "18.0") == {}  # versions are not looked at
    (code["plots"] / "models.py").write_text("# changed\n")
    (code["households"] / "static").mkdir()
    (code["households"] / "static" / "app.js").write_text("// static files need no update\n")
    assert modules.changed_modules(installed, stored, code, "18.0") == {"plots": "code checksum changed"}


def test_an_unreadable_manifest_version_means_an_update(tmp_path):
    dirs = {"odd": addon(tmp_path, "odd", "one.two")}
    changed = modules.changed_modules({"odd": "18.0.1.0"}, None, dirs, "18.0")
    assert list(changed) == ["odd"] and "manifest version unreadable" in changed["odd"]


@pytest.mark.parametrize("value", [None, "", "not json", "[1, 2]", '{"base": 3}', "null", '"text"'])
def test_recorded_checksums_that_are_not_ours_count_as_absent(value):
    """The row is written by the application role, or comes in a restored dump: untrusted."""
    assert modules.parse_checksums(value) is None


def test_recorded_checksums_are_read_back():
    assert modules.parse_checksums(json.dumps({"base": "ab12"})) == {"base": "ab12"}


def test_code_version_defaults_to_odoos_1_0(code):
    assert versions.code_version(code["households"], "18.0") == "18.0.1.0"
    assert versions.code_version(code["farmers"], "18.0") == "18.0.1.1"


def test_manifest_is_read_without_running_code(tmp_path):
    path = addon(tmp_path, "evil", "1.0", extra="\nimport os; os.system('touch pwned')\n")
    with pytest.raises((ValueError, SyntaxError)):
        versions.manifest(path)
    assert not (tmp_path / "pwned").exists()
