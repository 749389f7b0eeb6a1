"""Bring an environment up, wait until it is healthy, show its state, stop it."""
import json
import time

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from . import images, secrets
from .backup import interrupted
from .backup.pitr import LABEL as PITR_LABEL
from .docker import compose, docker
from .errors import DfrError
from .progress import elapsed, say, step

SERVICES = ("db", "odoo", "nginx")


def services_state(env):
    """[{service, state, health, image, ports}] from `docker compose ps` (JSON lines or array)."""
    out = compose(env)["ps", "--all", "--format", "json"].run(timeout=60)[1].strip()
    if not out:
        return []
    rows = json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines() if line.strip()]
    return [
        {
            "service": row.get("Service"),
            "state": row.get("State"),
            "health": row.get("Health") or "",
            "image": row.get("Image"),
            "ports": row.get("Publishers") or [],
        }
        for row in rows
    ]


def describe(state):
    return ", ".join(f"{s['service']}={s['health'] or s['state']}" for s in sorted(state, key=lambda s: s["service"]))


def wait_healthy(env, timeout=900, interval=2.0):
    """Wait (bounded) until every service is running and healthy, printing each change."""
    started = time.monotonic()
    last = None
    while True:
        state = services_state(env)
        summary = describe(state)
        if summary != last:
            say(f"  {elapsed(started):>6}  {summary or 'no containers yet'}")
            last = summary
        by_service = {s["service"]: s for s in state}
        if all(by_service.get(name, {}).get("health") == "healthy" for name in env.services):
            return
        for name, s in by_service.items():
            if s["state"] in ("exited", "dead") or s["health"] == "unhealthy":
                raise DfrError(f"service {name} is {s['health'] or s['state']}: see `invoke logs --env={env.name} --service={name}`")
        if time.monotonic() - started > timeout:
            raise DfrError(f"not healthy after {timeout} s ({summary}): see `invoke logs --env={env.name}`")
        time.sleep(interval)


def deploy(env, build=False, pull=False, timeout=900):
    """Build or pull, bring up, wait until healthy, print the URLs. Safe to run twice."""
    with step(1, 4, f"checking secrets in {env.secrets_dir}"):
        secrets.ensure(env)
    with step(2, 4, "preparing images"):
        if build:
            images.build(env)
        elif pull:
            images.pull(env)
        else:
            images.ensure_present(env)
    with step(3, 4, f"starting {env.project_name}"):
        interrupted.before_deploy(env)
        try:
            compose(env)["up", "--detach", "--remove-orphans", "--no-build"].run_fg()
        except ProcessExecutionError:
            raise DfrError(f"starting the stack failed: see `invoke logs --env={env.name}` and `invoke status --env={env.name}`") from None
    with step(4, 4, "waiting until every service is healthy"):
        wait_healthy(env, timeout=timeout)
    if env.bundled_db:
        # PostgreSQL 15 does not apply archive_timeout until the first checkpoint after a
        # start (up to checkpoint_timeout later): without this, a host lost in the first
        # minutes after a deploy could lose up to 5 minutes of writes instead of 60 s.
        compose(env)["exec", "-T", "-u", "postgres", "db", "psql", "-X", "-q", "-c", "CHECKPOINT"].run(
            retcode=None, timeout=300)
    for name, url in env.urls().items():
        say(f"  {name:12} {url}")


def stop(env, purge=False, force=False):
    """Stop and remove the containers; --purge also deletes the volumes (all data)."""
    command = compose(env)["down", "--remove-orphans"]
    if purge:
        if env.name != "devel" and not force:
            raise DfrError(f"--purge deletes every database, file and WAL archive of {env.name}: add --force if you really mean it")
        command = command["--volumes"]
    try:
        command.run_fg()
    except ProcessExecutionError:
        raise DfrError(f"stopping {env.project_name} failed (see above)") from None
    if purge:
        # Clusters kept aside by point-in-time restores are not in the compose file.
        kept = docker()["volume", "ls", "-q", "--filter", f"label={PITR_LABEL}={env.project_name}"]
        for name in kept.run(timeout=60)[1].split():
            docker()["volume", "rm", "-f", name].run(retcode=None, timeout=60)
            say(f"removed volume {name}")
        env.volumes_file.unlink(missing_ok=True)


def logs(env, service=None, tail=200, follow=False):
    command = compose(env)["logs", "--tail", str(tail)]
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


def status(env):
    """The machine-readable status: project, services (state, health, image), URLs."""
    try:
        state = services_state(env)
    except (ProcessExecutionError, ProcessTimedOut):
        raise DfrError(f"cannot read the state of {env.project_name} from docker compose") from None
    healthy = bool(state) and all(s["health"] == "healthy" for s in state if s["service"] in env.services) \
        and {s["service"] for s in state} >= set(env.services)
    return {"environment": env.name, "project": env.project_name, "healthy": healthy,
            "services": state, "urls": env.urls()}


def format_status(report):
    lines = [f"{report['project']} ({report['environment']}): {'healthy' if report['healthy'] else 'NOT healthy'}"]
    if not report["services"]:
        lines.append("  no containers: deploy it with `invoke deploy --env=%s`" % report["environment"])
    for s in report["services"]:
        lines.append(f"  {s['service']:6} {s['state']:9} {s['health'] or '-':10} {s['image']}")
    lines += [f"  {name:12} {url}" for name, url in report["urls"].items()]
    return "\n".join(lines)
