"""What `invoke status` shows: the project, each service's state, health and image, the URLs."""
from datetime import datetime

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from .. import docker as d
from ..errors import DfrError
from . import services


def report(env):
    """The machine-readable status: project, services (state, health, image), URLs."""
    try:
        state = services.states(env)
    except (ProcessExecutionError, ProcessTimedOut):
        raise DfrError(f"cannot read the state of {env.project_name} from docker compose") from None
    healthy = bool(state) and all(s["health"] == "healthy" for s in state if s["service"] in env.services) \
        and {s["service"] for s in state} >= set(env.services)
    for row in state:
        row.pop("id", None)
    return {"environment": env.name, "project": env.project_name, "healthy": healthy,
            "services": state, "urls": env.urls(), "alerts": firing_alerts(env)}


def firing_alerts(env):
    """The alerts firing now (one line each), as Alertmanager says; [] without monitoring."""
    if not env.monitoring:
        return []
    code, out, err = d.compose(env)["exec", "-T", "alertmanager", "dfr-monitoring", "alerts"].run(
        retcode=None, timeout=30)
    if code in (0, 1):
        return out.strip().splitlines()
    return [f"alertmanager does not answer: {(err or out).strip()[:200]}"]


def format_report(rep):
    lines = [f"{rep['project']} ({rep['environment']}): {'healthy' if rep['healthy'] else 'NOT healthy'}"]
    if not rep["services"]:
        lines.append("  no containers: deploy it with `invoke deploy --env=%s`" % rep["environment"])
    for s in rep["services"]:
        lines.append(f"  {s['service']:6} {s['state']:9} {s['health'] or '-':10} {s['image']}")
    lines += [f"  {name:12} {url}" for name, url in rep["urls"].items()]
    if rep.get("alerts"):
        lines.append("  alerts firing now:")
        lines += [f"    {line}" for line in rep["alerts"]]
    login = rep.get("admin_login")
    if login and login != "ok":
        lines.append(f"  WARNING: {login}: `invoke admin-password --env={rep['environment']}`")
    if rep.get("jobs"):
        lines.append("  jobs (invoke schedule):")
        for job in rep["jobs"]:
            last = "never run" if not job["last_run"] else (
                f"last {datetime.fromtimestamp(job['last_run']).astimezone():%Y-%m-%d %H:%M} "
                + ("ok" if job["last_result"] == 1 else f"FAILED: {job['message']}"))
            upcoming = f"next {job['next'].replace('T', ' ')[:16]}" if job["next"] else "NOT SCHEDULED"
            lines.append(f"    {job['job']:11} {job['schedule']:15} {upcoming}  {last}")
        if not rep["jobs"][0]["installed"]:
            lines.append(f"    (install them with `invoke schedule --env={rep['environment']}`)")
    return "\n".join(lines)
