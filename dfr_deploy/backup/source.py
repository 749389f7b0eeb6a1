"""A backup given to an operation (restore, point-in-time recovery, export): what it is
(formats.detect checks it whole before anything, or leaves a set's files to a restore, which
checks them while it loads them), decrypted when sealed, and mounted for the
tools' user (uid 1000), who may not read the operator's files: a set in BACKUP_DIR is handed to
it, anything else is mounted as it is when everyone may read it, and copied into a private
scratch folder otherwise."""
import os
import shutil
from pathlib import Path

from ..errors import DfrError
from ..progress import say
from . import crypto, formats, helper_cli, mounts, publish, settings
from .runner import give_to_tools, new_folder


def resolve_file(env, name):
    """A path, or the name of a set in the environment's BACKUP_DIR."""
    path = Path(name).expanduser()
    if path.exists():
        return path.resolve()
    candidate = settings.backup_dir(env) / name
    return candidate if candidate.exists() else path


def readable_by_anyone(path):
    """Every folder on the way searchable, and the file (or folder tree) readable, by others."""
    path = Path(path)
    for parent in list(path.parents)[:-1]:
        if not os.stat(parent).st_mode & 0o001:
            return False
    items = [path] + (list(path.rglob("*")) if path.is_dir() else [])
    return all(os.stat(p).st_mode & (0o005 if p.is_dir() else 0o004) for p in items)


def in_own_folders(env, path, own_folders=()):
    """Whether `path` is inside the environment's BACKUP_DIR (or one of `own_folders`)."""
    folders = [settings.backup_dir(env).resolve(), *(Path(f).resolve() for f in own_folders)]
    return any(folder in Path(path).resolve().parents for folder in folders)


def mounted_as_is(env, path, own_folders=()):
    """Whether mount_source mounts `path` itself (False: it copies it into scratch first)."""
    return in_own_folders(env, path, own_folders) or readable_by_anyone(path)


def mount_source(env, path, scratch_parent, own_folders=()):
    """(mount, path inside the container, scratch folder to remove or None) for a backup file.
    `own_folders`: other BACKUP_DIRs of this tool whose sets may be handed over (a drill's)."""
    path = Path(path).resolve()
    target = f"{mounts.INPUT}/{path.name}"
    if in_own_folders(env, path, own_folders):
        give_to_tools(path)
        return mounts.bind(path, target), target, None
    if readable_by_anyone(path):
        return mounts.bind(path, target), target, None
    scratch = new_folder(Path(scratch_parent) / f"{publish.TEMP_PREFIX}input-{os.getpid()}")
    say(f"      {path} is readable by its owner only: copying it into {scratch} for the tools' user")
    copy = scratch / path.name
    shutil.copytree(path, copy) if path.is_dir() else shutil.copy2(path, copy)
    give_to_tools(scratch)
    return mounts.bind(copy, target), target, scratch


def open_source(env, runner, file, jobs, identity=None, check_set=True):
    """(Source, [scratch folders to remove]): checked, and decrypted into scratch when sealed
    (check_set=False: a set's files are left to check, see formats.detect)."""
    source = formats.detect(file, jobs, check_set)
    if source.kind != "encrypted-set":
        return source, []
    key = crypto.identity(env, identity)
    folder = settings.backup_dir(env)
    scratch = new_folder(folder / f"{publish.TEMP_PREFIX}restore-{os.getpid()}")
    sealed = source.path / "set.tar.age"
    give_to_tools(source.path)
    try:
        runner.run("age-decrypt", helper_cli.decrypt(f"{mounts.SET}/set.tar.age", mounts.AGE_IDENTITY,
                                                     f"{mounts.OUT}/set", settings.reserve_bytes(env)),
                   "decrypting the set", watch=scratch,
                   volumes=[mounts.bind(sealed.parent, mounts.SET),
                            mounts.bind(runner.credentials.copy(key, mounts.TOOLS_USER), mounts.AGE_IDENTITY),
                            mounts.bind(scratch, mounts.OUT, read_only=False)])
    except DfrError as error:
        publish.discard(scratch)
        if "no identity matched" in str(error):
            raise DfrError(f"the age identity {key} cannot decrypt {source.path.name} (wrong key): "
                           "give the identity matching one of its recipients; nothing was changed") from None
        raise
    inner = formats.detect(scratch / "set", jobs, check_set)
    if inner.kind != "set":
        publish.discard(scratch)
        raise DfrError(f"{source.path.name} decrypts to a {inner.description}, not a set: nothing was changed")
    return formats.Source("set", inner.path, inner.manifest, inner.pg_version, inner.major_version,
                          inner.checked), [scratch]
