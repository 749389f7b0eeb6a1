"""Offsite copies with rclone to any remote it supports, checked after upload.

BACKUP_RCLONE_REMOTE is an rclone destination (`s3:bucket/dfr/prod`, `azureblob:...`,
`sftp-host:/srv/dfr`) or an absolute local path (`/mnt/offsite/prod`, a mounted disk). Remotes
are configured in rclone's own config file (BACKUP_RCLONE_CONFIG, default
~/.config/rclone/rclone.conf), mounted read-only into the tools container. After `rclone copy`,
`rclone check --one-way` compares the remote's checksums (sizes too) with the local files.
"""
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .. import durable
from ..errors import DfrError
from ..progress import say
from . import helper_cli, mounts, publish, settings
from .publish import TEMP_PREFIX
from .runner import Runner, give_to, give_to_tools, new_folder

RECORD = "offsite.json"


def remote(env):
    return env.get("BACKUP_RCLONE_REMOTE", "")


def check_encryption(env, encrypting):
    """Production's offsite copies leave the host: they must be encrypted, unless the settings
    say explicitly that this remote may hold plain sets (BACKUP_OFFSITE_UNENCRYPTED=true)."""
    if env.name == "prod" and not encrypting and env.get("BACKUP_OFFSITE_UNENCRYPTED", "false").lower() != "true":
        raise DfrError("production copies backups offsite but BACKUP_AGE_RECIPIENTS is empty: add the age public "
                       f"key(s) to config/{env.name}.env (or set BACKUP_OFFSITE_UNENCRYPTED=true if this remote may "
                       "hold unencrypted registry data); nothing was backed up")


def copy(env, runner, set_dir):
    """Copy one published set folder and check it (checksums); records the copy in the set's
    offsite.json."""
    where = remote(env)
    name = Path(set_dir).name
    volumes = [mounts.bind(set_dir, mounts.SET)]
    network, config = "none", None
    local = where.startswith("/")
    if local:
        # Only this set's folder is lent to the tools' user for the copy, and given back to the
        # remote folder's owner afterwards: the tools' uid may be a person's on this host.
        target = Path(where) / name
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        give_to_tools(target)
        volumes.append(mounts.bind(target, mounts.OFFSITE, read_only=False))
        destination = mounts.OFFSITE
    else:
        # Remote storage needs the outside world: the default bridge network, not the stack's.
        network, destination = "bridge", f"{where.rstrip('/')}/{name}"
        conf = Path(env.get("BACKUP_RCLONE_CONFIG", str(Path.home() / ".config/rclone/rclone.conf"))).expanduser()
        if conf.is_file():
            volumes.append(mounts.bind(runner.credentials.copy(conf, mounts.TOOLS_USER), mounts.RCLONE_CONFIG))
            config = mounts.RCLONE_CONFIG
    try:
        runner.run("offsite", helper_cli.offsite_copy(mounts.SET, destination, config, exclude=[RECORD]),
                   f"copying {name} to {where} and checking the copy", volumes=volumes, network=network)
    finally:
        if local:
            st = Path(where).stat()
            give_to(target, st.st_uid, st.st_gid)
    record_path = Path(set_dir) / RECORD
    records = json.loads(record_path.read_text()) if record_path.exists() else []
    records.append({"remote": where, "copied_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "checked": True})
    st = Path(set_dir).stat()
    durable.write_atomic(record_path, json.dumps(records, indent=2) + "\n", owner=(st.st_uid, st.st_gid))
    say(f"      copied to {where} and checked")
    return records


def fetch(env, name, runner=None):
    """Bring a set back from the offsite remote into a scratch folder of BACKUP_DIR (checked by
    rclone against the remote's checksums; its own manifest is checked by whoever uses it).
    Returns the set's folder there; `discard_fetched` removes it."""
    where = remote(env)
    if not where:
        raise DfrError(f"BACKUP_RCLONE_REMOTE is not set in config/{env.name}.env: there is no offsite copy to fetch")
    own = runner is None
    runner = runner or Runner(env)
    scratch = new_folder(settings.backup_dir(env) / f"{TEMP_PREFIX}offsite-{name}-{os.getpid()}")
    target = new_folder(scratch / name)
    volumes = [mounts.bind(target, mounts.OUT, read_only=False)]
    network, config = "none", None
    try:
        if where.startswith("/"):
            source_dir = Path(where) / name
            if not source_dir.is_dir():
                raise DfrError(f"{name} is not on the offsite remote {where}: copy it there first (`invoke backup` "
                               "does, when BACKUP_RCLONE_REMOTE is set)")
            give_to_tools(source_dir)     # lent for the copy, given back below
            volumes.append(mounts.bind(source_dir, mounts.OFFSITE))
            source = mounts.OFFSITE
        else:
            network, source = "bridge", f"{where.rstrip('/')}/{name}"
            conf = Path(env.get("BACKUP_RCLONE_CONFIG", str(Path.home() / ".config/rclone/rclone.conf"))).expanduser()
            if conf.is_file():
                volumes.append(mounts.bind(runner.credentials.copy(conf, mounts.TOOLS_USER), mounts.RCLONE_CONFIG))
                config = mounts.RCLONE_CONFIG
        runner.run("offsite-fetch", helper_cli.offsite_copy(source, mounts.OUT, config, exclude=[RECORD]),
                   f"fetching {name} from {where}", volumes=volumes, network=network, watch=target)
    except BaseException:
        publish.discard(scratch)
        raise
    finally:
        if where.startswith("/") and (Path(where) / name).is_dir():
            st = Path(where).stat()
            give_to(Path(where) / name, st.st_uid, st.st_gid)
        if own:
            runner.close()
    say(f"      fetched {name} from {where}")
    return target


def discard_fetched(path):
    publish.discard(Path(path).parent)


def copies(set_dir):
    path = Path(set_dir) / RECORD
    try:
        return [r["remote"] for r in json.loads(path.read_text())]
    except (OSError, ValueError, KeyError, TypeError):
        return []
