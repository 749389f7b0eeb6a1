"""Containers of a stack's services, stopping and starting them, and the one wait for health.

Every operation that needs a service up again (deploy, the swap of a restore, a point-in-time
recovery, a restore drill) waits here, so "healthy" means the same thing everywhere: Docker's
health status, or the image's own HEALTHCHECK command run through `docker exec` - which answers
as soon as the service is ready instead of at Docker's next scheduled check (every
HEALTH_INTERVAL, 10 s and more in production).
"""
import json
import time

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from .. import docker as d
from ..errors import DfrError
from ..progress import elapsed, say


def states(env):
    """[{service, id, state, health, image, ports}] of every container of the project."""
    out = d.compose(env)["ps", "--all", "--format", "json"].run(timeout=60)[1].strip()
    if not out:
        return []
    rows = json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines() if line.strip()]
    return [{"service": row.get("Service"), "id": row.get("ID", ""), "state": row.get("State"),
             "health": row.get("Health") or "", "image": row.get("Image"), "ports": row.get("Publishers") or []}
            for row in rows]


# Compose labels every container it makes, and the engine answers a label filter in about 20 ms,
# where `docker compose ps` first loads and resolves every compose layer (0.2-0.5 s a call; a
# restore asked six times). One-off containers (`compose run`) are not the service.
PROJECT_LABEL, SERVICE_LABEL, ONEOFF_LABEL = ("com.docker.compose.project", "com.docker.compose.service",
                                              "com.docker.compose.oneoff")
ENGINE_FORMAT = "{{.ID}}\t{{.Label \"%s\"}}\t{{.State}}\t{{.Status}}" % SERVICE_LABEL
# docker ps shows a container's health at the end of its status: "Up 3 seconds (healthy)"
HEALTH_SUFFIXES = (("(healthy)", "healthy"), ("(unhealthy)", "unhealthy"), ("(health: starting)", "starting"))


def engine_states(env, service=None, running_only=False):
    """[{service, id, state, health}] of the project's containers (of `service`), oldest first."""
    filters = [f"label={PROJECT_LABEL}={env.project_name}", f"label={ONEOFF_LABEL}=False"]
    filters += [f"label={SERVICE_LABEL}={service}"] if service else []
    args = ["ps", "--no-trunc", "--format", ENGINE_FORMAT] + ([] if running_only else ["--all"])
    for value in filters:
        args += ["--filter", value]
    # docker lists the newest container first
    return parse_engine_rows(reversed(d.docker()[args].run(timeout=60)[1].splitlines()))


def parse_engine_rows(lines):
    rows = []
    for line in lines:
        parts = line.split("\t")
        if len(parts) == 4:
            health = next((name for suffix, name in HEALTH_SUFFIXES if parts[3].endswith(suffix)), "")
            rows.append({"service": parts[1], "id": parts[0], "state": parts[2], "health": health})
    return rows


def containers(env, service, running_only=True):
    """Ids of the service's containers, oldest first (the one place that looks them up)."""
    try:
        return [row["id"] for row in engine_states(env, service, running_only)]
    except (ProcessExecutionError, ProcessTimedOut):
        return []


def container(env, service, running_only=True):
    """The service's newest container id, or "" when it has none."""
    found = containers(env, service, running_only)
    return found[-1] if found else ""


def health_probe(cid):
    """The image's own HEALTHCHECK command, to run with `docker exec` (None if it has none)."""
    test = json.loads(d.docker()["inspect", "-f", "{{json .Config.Healthcheck}}", cid].run(
        retcode=None, timeout=60)[1].strip() or "null") or {}
    test = test.get("Test") or []
    if test[:1] == ["CMD"] and len(test) > 1:
        return test[1:]
    if test[:1] == ["CMD-SHELL"] and len(test) == 2:
        return ["sh", "-c", test[1]]
    return None


def _probe_passes(cid, probes):
    """Run the container's own health check now (looked up once per container)."""
    if cid not in probes:
        probes[cid] = health_probe(cid)
    probe = probes[cid]
    if not probe:
        return False
    try:
        return d.docker()["exec", cid, probe].run(retcode=None, timeout=30)[0] == 0
    except ProcessTimedOut:
        return False


def describe(rows):
    return ", ".join(f"{s['service']}={s['health'] or s['state']}" for s in sorted(rows, key=lambda s: s["service"]))


def wait_healthy(env, services, timeout, what="", check=True, probe=False):
    """Wait (bounded) until every service in `services` runs and is healthy, printing each
    change of state. A service that exits or turns unhealthy fails at once. Returns True, or
    False on failure when check=False (else a DfrError saying where to look).

    probe: also run the image's health check now instead of waiting for Docker's next one
    (a swap gets Odoo back seconds sooner); without it, healthy means what `docker ps` and
    `invoke status` will say."""
    started = time.monotonic()
    probes, last = {}, None
    while True:
        rows = [r for r in engine_states(env) if r["service"] in services]
        summary = describe(rows)
        if summary != last:
            say(f"  {elapsed(started):>6}  {summary or 'no containers yet'}")
            last = summary
        # the running container of each service wins over exited ones left by a recreate
        by_service = {}
        for r in sorted(rows, key=lambda r: r["state"] == "running"):
            by_service[r["service"]] = r
        ready = True
        for name in services:
            row = by_service.get(name)
            if row is None:
                ready = False
            elif row["state"] in ("exited", "dead") or row["health"] == "unhealthy":
                if not check:
                    return False
                raise DfrError(f"service {name} is {row['health'] or row['state']}{what}: see "
                               f"`invoke logs --env={env.name} --service={name}`")
            elif row["health"] == "healthy" or (row["state"] == "running" and not row["health"]):
                continue   # healthy, or running without a health check
            elif row["state"] != "running" or not probe or not _probe_passes(row["id"], probes):
                ready = False
        if ready:
            return True
        if time.monotonic() - started > timeout:
            if not check:
                return False
            raise DfrError(f"not healthy after {timeout} s{what} ({summary}): see `invoke logs --env={env.name}`")
        # every quarter second while a quick start is likely, then every second
        time.sleep(0.25 if time.monotonic() - started < 15 else 1)


def stop(env, service, grace=30):
    """Stop every running container of a service (the containers themselves, so they come back
    exactly as they ran, even if the compose files changed meanwhile); returns their ids."""
    cids = containers(env, service)
    if not cids:
        return []
    try:
        d.docker()["stop", "--time", str(grace), *cids].run(timeout=grace + 90)
    except (ProcessExecutionError, ProcessTimedOut):
        raise DfrError(f"cannot stop the {service} service of {env.name}: see `invoke status --env={env.name}`") from None
    return cids


def start(env, service, cids=None, timeout=300, check=True, what="", probe=False):
    """Start a service again (the containers `stop` returned, else as deploy would) and wait
    until it is healthy. Returns True, or False on failure when check=False."""
    try:
        if cids:
            d.docker()["start", *cids].run(timeout=300)
        else:
            d.compose(env)["up", "--detach", "--no-deps", service].run(timeout=300)
    except (ProcessExecutionError, ProcessTimedOut) as error:
        if check:
            reason = (str(error).strip().splitlines() or [""])[-1]
            raise DfrError(f"cannot start the {service} service of {env.name}{what}: {reason}") from None
        return False
    return wait_healthy(env, (service,), timeout, what, check, probe)
