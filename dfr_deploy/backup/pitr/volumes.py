"""Which docker volume holds the live cluster, and which replaced ones are kept.

Docker volumes cannot be renamed, and copying a cluster twice (live aside, recovered in) would
double a recovery's time and need twice the disk: so a point-in-time restore swaps by volume
NAME. common.yaml names the cluster's volume `${POSTGRES_DATA_VOLUME}`, which the tasks read
from .docker/<env>/volumes.env (environments.postgres_volume):
  POSTGRES_DATA_VOLUME    the live cluster
  POSTGRES_DATA_PREVIOUS  the volume the last restore replaced (removed by the next good one,
                          or --drop-previous)
  POSTGRES_DATA_KEPT      volumes Odoo may have run on when a restore was rolled back: never
                          removed without a good restore or --drop-previous after them
"""
from dotenv import dotenv_values

from ... import docker as d
from ... import durable, labels
from ...progress import say


def read(env):
    values = dotenv_values(env.volumes_file) if env.volumes_file.exists() else {}
    return {"live": env.postgres_volume, "previous": values.get("POSTGRES_DATA_PREVIOUS") or "",
            "kept": [v for v in (values.get("POSTGRES_DATA_KEPT") or "").split(",") if v]}


def write(env, live, previous, kept=()):
    """.docker/<env>/volumes.env, durably."""
    env.volumes_file.parent.mkdir(parents=True, exist_ok=True)
    durable.write_atomic(env.volumes_file,
                         "# Written by point-in-time recovery: the docker volume holding the live cluster, the one\n"
                         "# it replaced, and volumes kept after a rolled-back restore. Do not edit while it runs.\n"
                         f"POSTGRES_DATA_VOLUME={live}\nPOSTGRES_DATA_PREVIOUS={previous}\n"
                         f"POSTGRES_DATA_KEPT={','.join(v for v in kept if v)}\n")


def remove(env, name):
    """Remove a volume - never the live one."""
    if name and name != env.postgres_volume:
        d.remove_volume(name)


def remove_leftovers(env):
    """Temporary servers and recovered volumes an interrupted run left behind (never the live,
    previous or kept volumes)."""
    d.remove_containers(*d.containers_labelled(labels.PITR, env.project_name))
    state = read(env)
    keep = {state["live"], state["previous"], *state["kept"]}
    for name in d.volumes_labelled(labels.PITR, env.project_name):
        if name not in keep:
            say(f"removing {name}, left by an interrupted point-in-time restore")
            remove(env, name)
