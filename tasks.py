"""DFR deployment tasks: `invoke --list` shows them, `invoke --help TASK` their options.

Each task only parses its options and calls one function of the dfr_deploy package.
"""
import functools
import json

from invoke import Exit, task

from dfr_deploy import base_image, environments, images, secrets, stack
from dfr_deploy.errors import DfrError

ENV_HELP = "environment: devel, staging or prod"


def one_line_errors(function):
    """Show a DfrError as `error: ...` and exit 1, without a traceback."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DfrError as error:
            raise Exit(f"error: {error}", code=1) from None
    return wrapper


def _services(service):
    if not service:
        return images.SERVICES
    if service not in images.SERVICES:
        raise DfrError(f"unknown image {service!r}: use one of {', '.join(images.SERVICES)}")
    return (service,)


@task(help={
    "tag": "base image tag to provide (default debian:bookworm-slim; debian:trixie-slim works too)",
    "mirror": "Debian mirror for debootstrap (default: this machine's apt sources, else deb.debian.org)",
    "no_pull": "do not try a registry first; build with debootstrap directly",
    "force": "rebuild with debootstrap even if the image exists",
})
@one_line_errors
def img_base(c, tag="debian:bookworm-slim", mirror=None, no_pull=False, force=False):
    """Provide the Debian base image: pull it, or make it with debootstrap (air-gapped)."""
    base_image.ensure(tag, mirror=mirror, pull=not no_pull, force=force)


@task(help={
    "env": ENV_HELP + " (decides tags and dev tools; default devel)",
    "service": "only this image: odoo, postgres or nginx (default all)",
    "odoo_source": "Odoo source: a folder with odoo-bin, an archive or a URL (default: ODOO_SOURCE, else Odoo's 18.0 archive)",
    "no_cache": "build without Docker's layer cache",
})
@one_line_errors
def img_build(c, env="devel", service=None, odoo_source=None, no_cache=False):
    """Build the images from the Dockerfiles in odoo/, postgres/ and nginx/."""
    images.build(environments.resolve(env), _services(service), odoo_source=odoo_source, no_cache=no_cache)


@task(help={"env": ENV_HELP + " (default prod)", "service": "only this image (default all)"})
@one_line_errors
def img_pull(c, env="prod", service=None):
    """Pull the environment's images from IMAGE_REGISTRY."""
    images.pull(environments.resolve(env), _services(service))


@task(help={"env": ENV_HELP + " (default prod)", "service": "only this image (default all)"})
@one_line_errors
def img_push(c, env="prod", service=None):
    """Push the environment's images to IMAGE_REGISTRY."""
    images.push(environments.resolve(env), _services(service))


@task(name="secrets", help={"env": ENV_HELP})
@one_line_errors
def secrets_(c, env):
    """Generate the secret env files of an environment (never overwrites existing ones)."""
    environment = environments.resolve(env)
    written = secrets.generate(environment)
    for path in written:
        print(f"wrote {path} (mode 0600): keep a copy in your password store")
    if not written:
        print(f"secrets of {environment.name} already exist in {environment.secrets_dir}; nothing changed")
    secrets.check(environment)


@task(help={
    "env": ENV_HELP,
    "build": "build the images first (default: build only missing devel images, pull missing others)",
    "pull": "pull the images first",
    "timeout": "seconds to wait for every service to be healthy (default 900)",
})
@one_line_errors
def deploy(c, env, build=False, pull=False, timeout=900):
    """Bring an environment up and wait until it is healthy; safe to run again."""
    stack.deploy(environments.resolve(env), build=build, pull=pull, timeout=int(timeout))


@task(help={
    "env": ENV_HELP,
    "purge": "also delete the volumes: database, filestore, WAL archive (needs --force outside devel)",
    "force": "confirm --purge outside devel",
})
@one_line_errors
def stop(c, env, purge=False, force=False):
    """Stop an environment (data is kept unless --purge)."""
    stack.stop(environments.resolve(env), purge=purge, force=force)


@task(help={
    "env": ENV_HELP,
    "service": "only this service: db, odoo or nginx",
    "tail": "number of lines to show from the end of each log (default 200)",
    "follow": "keep following the logs",
})
@one_line_errors
def logs(c, env, service=None, tail=200, follow=False):
    """Show the logs of an environment."""
    stack.logs(environments.resolve(env), service=service, tail=int(tail), follow=follow)


@task(name="status", help={"env": ENV_HELP, "json_": "machine-readable JSON output"})
@one_line_errors
def status_(c, env, json_=False):
    """Services, health, images and URLs of an environment."""
    report = stack.status(environments.resolve(env))
    print(json.dumps(report, indent=2) if json_ else stack.format_status(report))
