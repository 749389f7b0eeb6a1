"""`invoke backup-export --format=odoo-zip`: a set as Odoo's own zip, which `odoo db load`
and the database manager accept (dump.sql + filestore/ + manifest.json with Odoo's keys)."""
import json
from pathlib import Path

from ..errors import DfrError
from ..progress import say, step
from . import formats, lock, manifest, publish, settings
from .restore import _in_container, preflight
from .tools import BACKUPS, Tools, human


def resolve_set(tools, name):
    """A set given by folder name (in BACKUP_DIR) or by path."""
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.exists():
        path = tools.backup_dir / name
    if not path.is_dir():
        raise DfrError(f"no backup set {name!r}: give a folder name from `invoke backups` or a path")
    return path.resolve()


def export(env, set_name, fmt="odoo-zip", output=None, identity=None):
    if fmt != "odoo-zip":
        raise DfrError(f"unknown export format {fmt!r}: use --format=odoo-zip")
    tools = Tools(env)
    tools.check_image()
    path = resolve_set(tools, set_name)
    out = Path(output).expanduser().resolve() if output else tools.backup_dir / "exports" / f"{path.name}.zip"
    if out.exists():
        raise DfrError(f"{out} already exists: give another --output or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    with lock.held(tools.backup_dir, "backup-export", env.name):
        scratch = None
        try:
            with step(1, 2, f"checking {path.name}"):
                source = formats.detect(path, settings.jobs(env))
                if source.kind not in ("set", "encrypted-set"):
                    raise DfrError(f"{path} is a {source.description}, not a set of this tool")
                source, scratch = preflight(env, tools, source, settings.db_name(env),
                                            identity or env.get("BACKUP_AGE_IDENTITY", "") or None)
            data = source.manifest
            odoo = {key: data.get(key) for key in manifest.ODOO_KEYS}
            odoo["odoo_dump"] = "1"
            with step(2, 2, f"writing {out}"):
                inner, input_dir = _in_container(tools, source.path)
                result = tools.helper(
                    "export-zip", "export-zip", "--dump", f"{inner}/db", "--filestore", f"{inner}/filestore.tar.zst",
                    "--manifest-json", json.dumps(odoo, indent=4), "--out", f"/output/{out.name}",
                    "--scratch", BACKUPS, "--owner", tools.owner, what="writing the Odoo zip",
                    input_dir=input_dir, extra_mounts=[f"{out.parent}:/output"])
        finally:
            if scratch is not None:
                publish.discard(scratch, tools.remove)
            tools.close()
    say(f"wrote {out} ({human(result['bytes'])}): load it with `odoo db load` or Odoo's database manager")
    return out
