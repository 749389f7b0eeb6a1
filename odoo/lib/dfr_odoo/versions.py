"""Odoo's release and module versions, read from the source files without starting Odoo.

`adapt_version` is Odoo 18's (odoo/modules/module.py): a manifest version '1.2' is stored as
'18.0.1.2' in ir_module_module.latest_version, '18.0.1.2' stays, other shapes are invalid.
"""
import ast
import os
import re
import runpy

SOURCE = "/opt/odoo/src"
BASE_ADDONS = os.path.join(SOURCE, "odoo", "addons")  # base lives here, as in Odoo


def release(source=SOURCE):
    """{"version", "version_info", "major_version"} of odoo/release.py (executes only that file)."""
    values = runpy.run_path(os.path.join(source, "odoo", "release.py"))
    return {"version": values["version"], "version_info": list(values["version_info"]),
            "major_version": values.get("major_version") or values["serie"]}


def adapt_version(version, serie):
    if version == serie or not version.startswith(serie + "."):
        base_version, version = version, f"{serie}.{version}"
    else:
        base_version = version[len(serie) + 1:]
    if not re.match(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$", base_version):
        raise ValueError(f"invalid module version {base_version!r}")
    return version


def manifest(folder):
    """The manifest's dict (Odoo reads it with ast.literal_eval too: no code runs)."""
    with open(os.path.join(folder, "__manifest__.py"), encoding="utf-8") as handle:
        return ast.literal_eval(handle.read())


def code_version(folder, serie):
    """The version Odoo would store for the addon in `folder` (default '1.0', as in Odoo)."""
    return adapt_version(str(manifest(folder).get("version", "1.0")), serie)


def addon_dirs(opts):
    """name -> folder of every addon on the config's addons path (first one wins, as in Odoo)."""
    paths = [p.strip() for p in opts.get("addons_path", "").split(",") if p.strip()]
    paths.insert(0, BASE_ADDONS)
    found = {}
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if name not in found and os.path.isfile(os.path.join(full, "__manifest__.py")):
                    found[name] = full
    return found
