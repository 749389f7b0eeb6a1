"""Offsite copies with rclone to any remote it supports, checked after upload.

BACKUP_RCLONE_REMOTE is an rclone destination (`s3:bucket/dfr/prod`, `azureblob:...`,
`sftp-host:/srv/dfr`) or an absolute local path (`/mnt/offsite/prod`, a mounted disk). Remotes
are configured in rclone's own config file (BACKUP_RCLONE_CONFIG, default
~/.config/rclone/rclone.conf), mounted read-only into the tools container. After `rclone copy`,
`rclone check --one-way` compares the remote's checksums (sizes too) with the local files.
"""
import json
from datetime import datetime, timezone
from pathlib import Path

from ..progress import say
from . import tools as tools_mod

RECORD = "offsite.json"
CONFIG_IN_CONTAINER = "/run/dfr/rclone.conf"
LOCAL_IN_CONTAINER = "/offsite"


def remote(env):
    return env.get("BACKUP_RCLONE_REMOTE", "")


def _target(env):
    """(rclone destination as seen in the container, extra mounts, network)."""
    where = remote(env)
    mounts = []
    if where.startswith("/"):
        Path(where).mkdir(parents=True, exist_ok=True)
        return LOCAL_IN_CONTAINER, [f"{where}:{LOCAL_IN_CONTAINER}"], None
    config = Path(env.get("BACKUP_RCLONE_CONFIG", str(Path.home() / ".config/rclone/rclone.conf"))).expanduser()
    if config.is_file():
        mounts.append(f"{config}:{CONFIG_IN_CONTAINER}:ro")
    # Remote storage needs the outside world: the default bridge network, not the stack's.
    return where, mounts, "bridge"


def copy(env, tools, set_dir):
    """Copy one published set folder and check it; records the copy in the set's offsite.json."""
    where = remote(env)
    destination, mounts, network = _target(env)
    name = Path(set_dir).name
    source = f"{tools_mod.BACKUPS}/{name}"
    target = f"{destination.rstrip('/')}/{name}"
    common = ["--config", CONFIG_IN_CONTAINER] if any(CONFIG_IN_CONTAINER in m for m in mounts) else []
    tools.run("rclone-copy", ["rclone", "copy", *common, "--exclude", RECORD, source, target],
              what=f"copying {name} to {where}", extra_mounts=mounts, network=network)
    tools.run("rclone-check", ["rclone", "check", *common, "--one-way", "--exclude", RECORD, source, target],
              what=f"checking the copy of {name} on {where} (checksums differ or are missing)",
              extra_mounts=mounts, network=network)
    record_path = Path(set_dir) / RECORD
    records = json.loads(record_path.read_text()) if record_path.exists() else []
    records.append({"remote": where, "copied_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "checked": True})
    record_path.write_text(json.dumps(records, indent=2) + "\n")
    record_path.chmod(0o600)
    say(f"      copied to {where} and checked")
    return records


def copies(set_dir):
    path = Path(set_dir) / RECORD
    try:
        return [r["remote"] for r in json.loads(path.read_text())]
    except (OSError, ValueError, KeyError, TypeError):
        return []
