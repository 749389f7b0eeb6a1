"""Build, pull and push the DFR images (odoo, postgres, nginx, backup tools, monitoring, acme)."""
import shutil
import time
from pathlib import Path

from plumbum.commands.processes import ProcessExecutionError

from . import __version__
from .docker import check_engine, docker, image_exists, legacy_build_env
from .errors import DfrError
from .progress import elapsed, say, step

SERVICES = ("postgres", "odoo", "nginx", "backup", "monitoring", "acme")
ARCHIVES = (".tar.gz", ".tgz", ".tar.xz", ".tar", ".zip")
# What the image builds read from the project: the image folders, the settings, the compose layers.
BUILD_FOLDERS = (*SERVICES, "config")
BUILD_FILES = ("VERSION", "common.yaml", "devel.yaml", "server.yaml", "staging.yaml", "prod.yaml")


def copy_build_root(project, target):
    """A private copy of what the image builds read, with an empty Odoo staging folder: building
    from it with another Odoo source (the real one) leaves the project's odoo/.build alone."""
    project, target = Path(project), Path(target)
    for folder in BUILD_FOLDERS:
        shutil.copytree(project / folder, target / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".build"))
    for name in BUILD_FILES:
        shutil.copy2(project / name, target / name)
    (target / "odoo" / ".build" / "source").mkdir(parents=True)
    return target


def stage_odoo_source(root, source):
    """Put the Odoo source given by the user where the Dockerfile looks (odoo/.build/source/).

    `source` is a directory (a source tree with odoo-bin), an archive, a URL, or empty for the
    Dockerfile's default URL. Returns the build args that go with it.
    """
    staging = Path(root) / "odoo" / ".build" / "source"
    staging.mkdir(parents=True, exist_ok=True)
    for child in staging.iterdir():
        if child.name != ".gitkeep":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    if not source:
        return {}
    if "://" in source:
        return {"ODOO_SOURCE_URL": source}
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = (Path(root) / path).resolve()
    if path.is_dir():
        if not (path / "odoo-bin").exists():
            raise DfrError(f"{path} is not an Odoo source tree (no odoo-bin): give the folder that holds odoo-bin")
        for child in path.iterdir():
            if child.name in (".git", "__pycache__"):
                continue
            target = staging / child.name
            if child.is_dir():
                shutil.copytree(child, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git"))
            else:
                shutil.copy2(child, target)
    elif path.is_file() and path.name.endswith(ARCHIVES):
        shutil.copy2(path, staging / path.name)
    else:
        raise DfrError(f"Odoo source {source!r} is neither a folder with odoo-bin, an archive ({', '.join(ARCHIVES)}) nor a URL")
    return {}


def build_args(env, service, extra):
    args = {"BASE_IMAGE": env.get("BASE_IMAGE", "debian:bookworm-slim")}
    if service == "odoo":
        args.update(
            ODOO_VERSION=env.get("ODOO_VERSION", "18.0"),
            ODOO_LANGUAGES=env.get("ODOO_LANGUAGES", "en,fr,es,pt"),
            ODOO_ADDONS=env.get("ODOO_ADDONS", ""),
            ODOO_DEV_TOOLS=env.get("ODOO_DEV_TOOLS", "true" if env.name == "devel" else "false"),
            DFR_VERSION=__version__,
        )
        args.update(extra)
    return args


def build(env, services=SERVICES, odoo_source=None, no_cache=False):
    check_engine()
    base = env.get("BASE_IMAGE", "debian:bookworm-slim")
    if not image_exists(base):
        raise DfrError(f"base image {base} is missing: run `invoke img-base` first (it pulls or debootstraps it)")
    extra = {}
    if "odoo" in services:
        extra = stage_odoo_source(env.root, odoo_source if odoo_source is not None else env.get("ODOO_SOURCE"))
    for number, service in enumerate(services, 1):
        tag = env.image(service)
        with step(number, len(services), f"building {tag}"):
            command = docker()["build", "--pull=false", "-t", tag]
            if no_cache:
                command = command["--no-cache"]
            for key, value in build_args(env, service, extra).items():
                command = command["--build-arg", f"{key}={value}"]
            try:
                command[str(env.root / service)].with_env(**legacy_build_env()).run_fg()
            except ProcessExecutionError:
                raise DfrError(f"building {tag} failed (see the build output above)") from None


def pull(env, services=SERVICES):
    check_engine()
    for number, service in enumerate(services, 1):
        tag = env.image(service)
        with step(number, len(services), f"pulling {tag}"):
            try:
                docker()["pull", tag].run_fg()
            except ProcessExecutionError:
                raise DfrError(f"cannot pull {tag}: check IMAGE_REGISTRY/IMAGE_TAG in {env.settings_file} "
                               "and `docker login`, or build it with `invoke img-build`") from None


def push(env, services=SERVICES):
    check_engine()
    for number, service in enumerate(services, 1):
        tag = env.image(service)
        if not image_exists(tag):
            raise DfrError(f"{tag} does not exist locally: build it first with `invoke img-build --env={env.name}`")
        with step(number, len(services), f"pushing {tag}"):
            try:
                docker()["push", tag].run_fg()
            except ProcessExecutionError:
                raise DfrError(f"cannot push {tag}: check the registry address and `docker login`") from None


def ensure_present(env, build_missing=True):
    """Images for a deploy: build (devel) or pull (staging/prod) those not present locally."""
    missing = [s for s in SERVICES if not image_exists(env.image(s))]
    if not missing:
        say("images: " + ", ".join(env.image(s) for s in SERVICES) + " (present)")
        return
    started = time.monotonic()
    if env.name == "devel" and build_missing:
        build(env, missing)
    else:
        pull(env, missing)
    say(f"images ready in {elapsed(started)}")


def select(service):
    """The images a --service option names (all when empty)."""
    if not service:
        return SERVICES
    if service not in SERVICES:
        raise DfrError(f"unknown image {service!r}: use one of {', '.join(SERVICES)}")
    return (service,)
