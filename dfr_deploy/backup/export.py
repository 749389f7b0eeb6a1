"""`invoke backup-export --format=odoo-zip`: a set as Odoo's own zip, which `odoo db load`
and the database manager accept (dump.sql + filestore/ + manifest.json with Odoo's keys)."""
import json
import os
import shutil
from pathlib import Path

from ..errors import DfrError
from ..progress import human, say, step
from . import helper_cli, manifest, mounts, publish, settings
from . import source as sources
from .runner import Runner, new_folder


def resolve_set(env, name):
    """A set given by folder name (in BACKUP_DIR) or by path."""
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.exists():
        path = settings.backup_dir(env) / name
    if not path.is_dir():
        raise DfrError(f"no backup set {name!r}: give a folder name from `invoke backups` or a path")
    return path.resolve()


def export(env, set_name, fmt="odoo-zip", output=None, identity=None):
    """Write the zip (the caller has entered the one door); returns its path."""
    if fmt != "odoo-zip":
        raise DfrError(f"unknown export format {fmt!r}: use --format=odoo-zip")
    path = resolve_set(env, set_name)
    folder = settings.backup_dir(env)
    out = Path(output).expanduser().resolve() if output else folder / "exports" / f"{path.name}.zip"
    if out.exists():
        raise DfrError(f"{out} already exists: give another --output or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    runner = Runner(env)
    runner.check_image()
    scratches = []
    try:
        with step(1, 2, f"checking {path.name}"):
            source, scratches = sources.open_source(env, runner, path, settings.jobs(env), identity)
            if source.kind != "set":
                raise DfrError(f"{path} is a {source.description}, not a set of this tool")
        odoo = {key: source.manifest.get(key) for key in manifest.ODOO_KEYS}
        odoo["odoo_dump"] = "1"
        with step(2, 2, f"writing {out}"):
            mount, inside, copied = sources.mount_source(env, source.path, folder)
            scratches += [copied] if copied else []
            work = new_folder(folder / f"{publish.TEMP_PREFIX}export-{os.getpid()}")
            scratches.append(work)
            result = runner.run("export-zip", helper_cli.export_zip(
                f"{inside}/db", f"{inside}/filestore.tar.zst", json.dumps(odoo, indent=4), f"{mounts.OUT}/export.zip",
                mounts.OUT), "writing the Odoo zip", watch=work,
                volumes=[mount, mounts.bind(work, mounts.OUT, read_only=False)])
            # The zip is the operator's now: root's, 0600, where they asked for it.
            os.chown(work / "export.zip", os.getuid(), os.getgid())
            shutil.move(str(work / "export.zip"), str(out))
    finally:
        for scratch in scratches:
            publish.discard(scratch)
        runner.close()
    say(f"wrote {out} ({human(result['bytes'])}): load it with `odoo db load` or Odoo's database manager")
    return out
