"""Bring a whole stack up (deploy), down (stop, purge), and show its logs."""
from plumbum.commands.processes import ProcessExecutionError

from .. import docker as d
from .. import labels
from ..environments import MONITORING_SERVICES
from ..errors import DfrError
from ..progress import say

SERVICES = ("db", "odoo", "nginx", "acme", "mailcatcher") + MONITORING_SERVICES


def up(env):
    """`compose up` of every service (nothing is rebuilt: images are prepared before)."""
    try:
        d.compose(env)["up", "--detach", "--remove-orphans", "--no-build"].run_fg()
    except ProcessExecutionError:
        raise DfrError(f"starting the stack failed: see `invoke logs --env={env.name}` and "
                       f"`invoke status --env={env.name}`") from None


def down(env, purge=False, force=False):
    """Stop and remove the containers; purge also deletes the volumes (all data)."""
    command = d.compose(env)["down", "--remove-orphans"]
    if purge:
        if env.name != "devel" and not force:
            raise DfrError(f"--purge deletes every database, file and WAL archive of {env.name}: "
                           "add --force if you really mean it")
        command = command["--volumes"]
    try:
        command.run_fg()
    except ProcessExecutionError:
        raise DfrError(f"stopping {env.project_name} failed (see above)") from None
    if purge:
        # Clusters kept aside by point-in-time restores are not in the compose file.
        for name in d.volumes_labelled(labels.PITR, env.project_name):
            d.remove_volume(name)
            say(f"removed volume {name}")
        env.volumes_file.unlink(missing_ok=True)


def logs(env, service=None, tail=200, follow=False):
    command = d.compose(env)["logs", "--tail", str(tail)]
    if follow:
        command = command["--follow"]
    if service:
        if service not in SERVICES:
            raise DfrError(f"unknown service {service!r}: use one of {', '.join(SERVICES)}")
        command = command[service]
    try:
        command.run_fg()
    except ProcessExecutionError:
        raise DfrError(f"cannot read the logs of {env.project_name}") from None
    except KeyboardInterrupt:
        pass
