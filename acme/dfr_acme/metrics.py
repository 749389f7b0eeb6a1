"""dfr_tls.prom: the metrics of the certificate, for node_exporter's textfile collector
(METRICS_DIR, see /work/notes/metrics.md of dfr-deploy): its expiry, and the renewal job's
dfr_job_* series with job="tls-renew" (the same names and help texts as the backup jobs').
Every series carries environment and project labels; the file is replaced atomically, 0644."""
from pathlib import Path

from . import store

FILE = "dfr_tls.prom"
FAMILIES = {
    "dfr_tls_cert_not_after_timestamp_seconds": ("gauge", "When the served certificate expires (unix time)."),
    "dfr_job_last_run_timestamp_seconds": ("gauge", "When the job last ended (unix time)."),
    "dfr_job_last_success_timestamp_seconds": ("gauge", "When the job last succeeded (unix time)."),
    "dfr_job_last_result": ("gauge", "1 if the job's last run succeeded, 0 if it failed."),
    "dfr_job_last_duration_seconds": ("gauge", "How long the job's last run took."),
    "dfr_job_lock_timeout": ("gauge", "1 if the last run failed because another operation held the lock too long."),
}
JOB = {"job": "tls-renew"}


def _escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(settings, cert, state):
    """The file's text: the certificate's expiry (when there is one), the job's last run (when
    there was one)."""
    samples = []
    if cert is not None:
        samples.append(("dfr_tls_cert_not_after_timestamp_seconds", {"name": settings.domain}, cert.not_after))
    if state.get("last_run"):
        samples += [("dfr_job_last_run_timestamp_seconds", JOB, state["last_run"]),
                    ("dfr_job_last_result", JOB, state.get("last_result", 0)),
                    ("dfr_job_last_duration_seconds", JOB, state.get("last_duration", 0)),
                    ("dfr_job_lock_timeout", JOB, 0)]
        if state.get("last_success"):
            samples.append(("dfr_job_last_success_timestamp_seconds", JOB, state["last_success"]))
    lines = []
    for name, (kind, text) in FAMILIES.items():
        mine = [(labels, value) for n, labels, value in samples if n == name]
        if not mine:
            continue
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for labels, value in mine:
            every = {"environment": settings.environment, "project": settings.project, **labels}
            text_labels = ",".join(f'{k}="{_escape(v)}"' for k, v in every.items())
            lines.append(f"{name}{{{text_labels}}} {float(value):.17g}")
    return "\n".join(lines) + "\n"


def write(settings, cert, state):
    folder = Path(settings.metrics_dir)
    if not folder.is_dir():
        return None
    target = folder / FILE
    store.write_file(target, render(settings, cert, state), mode=0o644)
    return target
