"""The odoo/build.d scripts of the image's build stages, run for real on a copy of the stand-in."""
import ast
import shutil
import subprocess
import sys
import tarfile


STANDIN = "tests/fixtures/odoo-standin"


def run(root, script, *args, python=False):
    command = ([sys.executable] if python else ["bash"]) + [str(root / "odoo/build.d" / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})


def modules(tree):
    """The installable addons of a tree (a removed addon leaves a not-installable stub)."""
    return sorted(p.parent.name for p in tree.glob("**/__manifest__.py")
                  if ast.literal_eval(p.read_text()).get("installable", True))


def test_source_tree_in_git_layout(root, tmp_path):
    result = run(root, "10-odoo-source", root / STANDIN, tmp_path / "src")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "src/odoo-bin").exists() and (tmp_path / "src/addons/web/__manifest__.py").exists()


def test_source_archive_in_sdist_layout(root, tmp_path):
    """Odoo's nightly archive: one top folder, all addons in odoo/addons, launcher setup/odoo."""
    top = tmp_path / "build" / "odoo-18.0.post20261121"
    shutil.copytree(root / STANDIN, top, ignore=shutil.ignore_patterns("__pycache__"))
    for addon in (top / "addons").iterdir():
        shutil.move(str(addon), top / "odoo/addons" / addon.name)
    (top / "addons").rmdir()
    (top / "setup").mkdir()
    shutil.move(str(top / "odoo-bin"), top / "setup/odoo")
    inputs = tmp_path / "input"
    inputs.mkdir()
    with tarfile.open(inputs / "odoo_18.0.latest.tar.gz", "w:gz") as archive:
        archive.add(top, arcname=top.name)
    result = run(root, "10-odoo-source", inputs, tmp_path / "src")
    assert result.returncode == 0, result.stderr
    assert "sdist layout" in result.stdout
    src = tmp_path / "src"
    assert (src / "odoo-bin").exists() and not (src / "setup").exists()
    assert {"base", "web", "bus", "mail"} <= set(modules(src / "odoo/addons"))
    result = run(root, "25-keep-addons", src, "web", python=True)
    assert result.returncode == 0, result.stderr
    assert "mail" not in modules(src) and {"base", "web"} <= set(modules(src))


def test_not_an_odoo_source_is_refused(root, tmp_path):
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "notes.tar.gz").write_bytes(b"")
    with tarfile.open(tmp_path / "input" / "notes.tar.gz", "w:gz") as archive:
        archive.add(root / "VERSION", arcname="VERSION")
    result = run(root, "10-odoo-source", tmp_path / "input", tmp_path / "src")
    assert result.returncode != 0 and "no odoo-bin" in result.stderr


def test_keep_addons_follows_dependencies_and_refuses_unknown(root, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(root / STANDIN, src)
    result = run(root, "25-keep-addons", src, "bus", python=True)
    assert result.returncode == 0, result.stderr
    assert "mail" not in modules(src) and {"base", "web", "bus"} <= set(modules(src))
    result = run(root, "25-keep-addons", src, "sale", python=True)
    assert result.returncode != 0 and "sale" in result.stderr


def test_a_removed_addon_leaves_a_stub_with_its_category(root, tmp_path):
    """Odoo creates module categories from every manifest it finds when it initialises a database,
    and base's data refers to some of them: a removed addon keeps its manifest, not installable."""
    src = tmp_path / "src"
    shutil.copytree(root / STANDIN, src)
    original = ast.literal_eval((src / "addons/mail/__manifest__.py").read_text())
    result = run(root, "25-keep-addons", src, "web", python=True)
    assert result.returncode == 0, result.stderr
    assert "reduced to not-installable stubs" in result.stdout
    stub = src / "addons/mail"
    assert sorted(p.name for p in stub.iterdir()) == ["__init__.py", "__manifest__.py"]
    manifest = ast.literal_eval((stub / "__manifest__.py").read_text())
    assert manifest["installable"] is False
    assert manifest["category"] == original["category"] and manifest["depends"] == original["depends"]


def test_keep_languages(root, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(root / STANDIN, src)
    result = run(root, "20-keep-languages", src, "fr,en")
    assert result.returncode == 0, result.stderr
    left = sorted(p.name for p in src.glob("**/i18n/*"))
    assert left == ["fr.po", "fr.po"]


def test_select_addons(root, tmp_path):
    src = tmp_path / "custom/src"
    for repo, addon in (("private", "dfr_farmer"), ("oca-tools", "tool_a"), ("oca-tools", "tool_b")):
        (src / repo / addon).mkdir(parents=True)
        (src / repo / addon / "__manifest__.py").write_text("{'name': '%s'}" % addon)
    (src / "addons.yaml").write_text("oca-tools:\n  - tool_b\n")
    result = run(root, "50-select-addons", src, tmp_path / "auto", python=True)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "auto").iterdir()) == ["tool_b"]
    (src / "addons.yaml").write_text("oca-tools:\n  - tool_c\n")
    result = run(root, "50-select-addons", src, tmp_path / "auto2", python=True)
    assert result.returncode != 0 and "tool_c" in result.stderr
    (src / "private" / "tool_b").mkdir()
    (src / "private" / "tool_b" / "__manifest__.py").write_text("{}")
    (src / "addons.yaml").write_text("oca-tools:\n  - '*'\n")
    result = run(root, "50-select-addons", src, tmp_path / "auto3", python=True)
    assert result.returncode != 0 and "enabled twice" in result.stderr
