"""The config files of Prometheus, Alertmanager and the blackbox exporter, made from the settings.

Configs are built as Python data and written as JSON (which YAML readers accept), so no value
is ever pasted into YAML text. The one text template is the rule file: its ${NAME} placeholders
take checked settings only (durations and numbers), and an unknown name is an error.
"""
import json
import os
import re
from pathlib import Path

from .settings import SettingError, placeholders, seconds

SHARE = Path(os.environ.get("DFR_MONITORING_SHARE", "/usr/local/share/dfr-monitoring"))
SECRETS = Path(os.environ.get("DFR_MONITORING_SECRETS", "/run/secrets"))
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
RULES_NAME = "dfr-alerts.yml"
HEALTH_TARGET = "https://nginx/web/health?db_server_status=1"
# Alerts that are a consequence of another one: (source, targets, labels that must be equal).
INHIBIT = [
    ('alertname="PostgresDown"', 'alertname=~"OdooDown|HighErrorRate|SlowResponses|TooManyConnections"',
     ["environment", "project"]),
    ('alertname="NginxDown"', 'alertname=~"OdooDown|HighErrorRate|SlowResponses"', ["environment", "project"]),
    # PostgresDown and NginxDown also fire when their exporter's scrape fails: one alert is enough.
    ('alertname=~"PostgresDown|NginxDown"', 'alertname="MonitoringTargetDown"', ["environment", "project", "job"]),
    ('alertname="OdooDown"', 'alertname=~"HighErrorRate|SlowResponses"', ["environment", "project"]),
    ('alertname="BackupFailed"', 'alertname=~"BackupMissing|BaseBackupMissing"', ["environment", "project"]),
    ('alertname="CertificateExpiring", severity="critical"', 'alertname="CertificateExpiring", severity="warning"',
     ["environment", "project", "instance"]),
]


def rules_text(values):
    """The rule file with every ${NAME} replaced by its checked setting."""
    known = placeholders(values)
    template = (SHARE / "prometheus" / RULES_NAME).read_text()

    def replace(match):
        name = match.group(1)
        if name not in known:
            raise SettingError(f"{RULES_NAME} uses ${{{name}}}, which is not a setting: fix the rule file")
        return known[name]

    return PLACEHOLDER.sub(replace, template)


def scrape_timeout(interval):
    """At most 10 s and never longer than the interval (Prometheus refuses that)."""
    return f"{max(1, min(10, int(seconds(interval))))}s"


def job(name, target, path="/metrics", **extra):
    return {"job_name": name, "metrics_path": path, "static_configs": [{"targets": [target]}], **extra}


def prometheus_config(values, rules_dir):
    interval = values["PROMETHEUS_SCRAPE_INTERVAL"]
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": scrape_timeout(interval),
            "evaluation_interval": values["PROMETHEUS_EVALUATION_INTERVAL"],
            # Added to every alert sent to Alertmanager: which registry is speaking.
            "external_labels": {"environment": values["DFR_ENV"], "project": values["COMPOSE_PROJECT_NAME"]},
        },
        "alerting": {"alertmanagers": [
            {"path_prefix": "/alertmanager", "static_configs": [{"targets": ["alertmanager:9093"]}]}]},
        "rule_files": [str(Path(rules_dir) / RULES_NAME)],
        "scrape_configs": [
            job("prometheus", "localhost:9090", "/prometheus/metrics"),
            job("alertmanager", "alertmanager:9093", "/alertmanager/metrics"),
            job("postgres", "postgres-exporter:9187"),
            job("nginx", "nginx-exporter:9113"),
            # honor_labels: the backup jobs' metrics carry their own `job` label (backup, drill...),
            # which must not be renamed to exported_job.
            job("node", "node-exporter:9100", honor_labels=True),
            job("mtail", "mtail:3903"),
            job("blackbox", "blackbox-exporter:9115"),
            {
                "job_name": "odoo_health",
                "metrics_path": "/probe",
                "params": {"module": ["odoo_health"]},
                "static_configs": [{"targets": [HEALTH_TARGET]}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": "blackbox-exporter:9115"},
                ],
            },
        ],
    }


def secret(name):
    """A secret file's first line, or "" when it is absent or empty."""
    path = SECRETS / name
    try:
        return path.read_text().strip()
    except (FileNotFoundError, IsADirectoryError):
        return ""


def alertmanager_config(values, share=SHARE):
    """Mail to the relay (or the mail catcher), a webhook when set, and the inhibitions."""
    relay = values["SMTP_SERVER"]
    smtp = {"smtp_smarthost": f"{relay}:{values['SMTP_PORT']}" if relay else values["MAILCATCHER_ADDRESS"],
            "smtp_from": values["ALERT_EMAIL_FROM"] or f"dfr-alerts@{values['DOMAIN']}",
            "smtp_hello": values["DOMAIN"],
            "smtp_require_tls": bool(relay) and values["SMTP_SSL"] == "true"}
    if relay and values["SMTP_USER"]:
        # Alertmanager reads the file itself: the password is in no config, env or argv.
        smtp.update(smtp_auth_username=values["SMTP_USER"],
                    smtp_auth_password_file=str(SECRETS / "smtp_password"))
    receiver = {"name": "operators"}
    if values["ALERT_EMAIL_TO"]:
        receiver["email_configs"] = [{
            "to": values["ALERT_EMAIL_TO"], "send_resolved": True,
            "headers": {"Subject": '{{ template "dfr.email.subject" . }}'},
            "text": '{{ template "dfr.email.text" . }}',
        }]
    if values["ALERT_WEBHOOK_URL"]:
        hook = {"url": values["ALERT_WEBHOOK_URL"], "send_resolved": True, "max_alerts": 50}
        if secret("alert_webhook_token"):
            hook["http_config"] = {"authorization": {
                "type": "Bearer", "credentials_file": str(SECRETS / "alert_webhook_token")}}
        receiver["webhook_configs"] = [hook]
    return {
        "global": {"resolve_timeout": "5m", **smtp},
        "templates": [str(Path(share) / "alertmanager" / "dfr.tmpl")],
        "route": {
            "receiver": "operators",
            "group_by": ["alertname", "environment", "project"],
            "group_wait": values["ALERTMANAGER_GROUP_WAIT"],
            "group_interval": values["ALERTMANAGER_GROUP_INTERVAL"],
            "repeat_interval": values["ALERTMANAGER_REPEAT_INTERVAL"],
        },
        "receivers": [receiver],
        "inhibit_rules": [{"source_matchers": [source], "target_matchers": [target], "equal": equal}
                          for source, target, equal in INHIBIT],
    }


def blackbox_config(values):
    """One module: GET Odoo's health route (database check included) through nginx over TLS."""
    domain = values["DOMAIN"]
    return {"modules": {"odoo_health": {
        "prober": "http",
        "timeout": "10s",
        "http": {
            "method": "GET",
            "valid_status_codes": [200],
            "preferred_ip_protocol": "ip4",
            "follow_redirects": False,
            "fail_if_not_ssl": True,
            "fail_if_body_not_matches_regexp": ['"status":\\s*"pass"'],
            "headers": {"Host": domain},
            # Expiry is what is watched here (probe_ssl_earliest_cert_expiry): a self-signed or
            # internal certificate must not make the health probe fail.
            "tls_config": {"insecure_skip_verify": True, "server_name": domain},
        },
    }}}


def write(path, data):
    """Write atomically, readable by this user only (the webhook token's path, the SMTP login)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def render_all(values, out):
    """Every generated file into `out`; returns their paths by name."""
    out = Path(out)
    (out / "rules").mkdir(parents=True, exist_ok=True)
    return {
        "rules": write(out / "rules" / RULES_NAME, rules_text(values)),
        "prometheus": write(out / "prometheus.yml", prometheus_config(values, out / "rules")),
        "alertmanager": write(out / "alertmanager.yml", alertmanager_config(values)),
        "blackbox": write(out / "blackbox.yml", blackbox_config(values)),
    }
