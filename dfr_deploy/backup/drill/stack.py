"""The throwaway stack of a restore drill.

It is the environment itself (its settings, images and code paths) under another compose
project - `<project>-drill-<time>` - made of common.yaml + drill.yaml: no port published, every
network internal. Its secrets are new ones, in the drill's scratch folder inside BACKUP_DIR,
and so is its journal: whatever a killed drill leaves is found by `repair` (the scratch folder
as an unfinished run, the containers, volumes and networks by their label) and removed.
"""
import os
from datetime import datetime, timezone

from ... import docker as d
from ... import environments, labels, secrets
from ...progress import say
from .. import publish, settings
from ..runner import new_folder


def make(env, point_in_time_volume=None, secrets_of=None):
    """(drill environment, scratch folder) for a drill of `env`: new secrets, or those of
    `secrets_of` (a recovered cluster keeps the live roles' passwords)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S")
    scratch = new_folder(settings.backup_dir(env) / f"{publish.TEMP_PREFIX}drill-{stamp}-{os.getpid()}")
    overrides = {
        **env.overrides, "DFR_PROJECT": f"{env.project_name}-drill-{stamp}", "DFR_LAYERS": "common.yaml,drill.yaml",
        "DFR_DRILL_OF": env.project_name,
        "DFR_SECRETS_DIR": str(secrets_of.secrets_dir if secrets_of else scratch / "secrets"),
        "BACKUP_DIR": str(scratch / "backups"), "DB_HOST": "db", "MONITORING": "false",
        # Its metrics are the environment's (written by the drill itself, not by the restore).
        "METRICS_DIR": str(scratch / "metrics"),
    }
    if point_in_time_volume:
        overrides["POSTGRES_DATA_VOLUME"] = point_in_time_volume
    drill_env = environments.Environment(env.name, env.root, overrides)
    if not secrets_of:
        secrets.generate(drill_env)
    settings.backup_dir(drill_env)
    return drill_env, scratch


def remove(drill_env):
    """Down with its volumes (the recovered volume of a point-in-time drill too). A volume the
    restore's helper containers mounted before compose made it (the filestore's) has no compose
    label, so `down --volumes` leaves it: every volume of the drill's project goes by name."""
    d.compose(drill_env)["down", "--volumes", "--remove-orphans", "--timeout", "20"].run(retcode=None, timeout=600)
    for name in d.volumes_prefixed(f"{drill_env.project_name}_"):
        d.remove_volume(name)
    if drill_env.overrides.get("POSTGRES_DATA_VOLUME"):
        d.remove_volume(drill_env.overrides["POSTGRES_DATA_VOLUME"])


def remove_leftovers(env):
    """Every drill stack of `env` still there (a killed drill's): containers, volumes, networks."""
    containers = d.containers_labelled(labels.DRILL, env.project_name)
    volumes = sorted(set(d.volumes_labelled(labels.DRILL, env.project_name))
                     | set(d.volumes_prefixed(f"{env.project_name}-drill-")))
    networks = d.networks_labelled(labels.DRILL, env.project_name)
    if containers or volumes or networks:
        say(f"removing a restore drill's stack left by an interrupted run ({len(containers)} containers, "
            f"{len(volumes)} volumes)")
    d.remove_containers(*containers)
    for name in volumes:
        d.remove_volume(name)
    d.remove_networks(*networks)
