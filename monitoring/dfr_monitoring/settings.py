"""Every setting of the monitoring layer: its default, what it must look like, what it means.

The one place defaults live. Containers get the values as environment variables (listed in
monitoring.yaml); an unset or empty variable means the default. Each value is checked here
before it reaches a config file, so a typo stops the container with one line that names the
setting, instead of a Prometheus that silently never alerts.
"""
import os
import re
from dataclasses import dataclass

DURATION = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")
DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
PATTERNS = {
    "label": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"),
    "host": re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"),
    "hostport": re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?:[0-9]{1,5}$"),
    "port": re.compile(r"^[1-9][0-9]{0,4}$"),
    "integer": re.compile(r"^[0-9]{1,9}$"),
    "size": re.compile(r"^[0-9]+(?:B|KB|MB|GB|TB)$"),
    "url": re.compile(r"^https?://[^\s\"'<>\\{}|^`]+$"),
    "emails": re.compile(r"^[^\s@,\"'<>]+@[^\s@,\"'<>]+(?:,[^\s@,\"'<>]+@[^\s@,\"'<>]+)*$"),
    "email": re.compile(r"^[^\s@,\"'<>]+@[^\s@,\"'<>]+$"),
    "user": re.compile(r"^[^\s\"'\\]{1,200}$"),
}
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class SettingError(ValueError):
    """A setting with a value it cannot have; the message is the one line the operator sees."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    kind: str        # duration, ratio, number, bool, or a key of PATTERNS
    meaning: str
    optional: bool = False   # empty is a valid value (feature off)


S = Setting
SETTINGS = [
    # --- identity of the stack (labels on every alert) -----------------------------------
    S("DFR_ENV", "devel", "label", "environment name, label `environment` on every alert"),
    S("COMPOSE_PROJECT_NAME", "dfr-devel", "label", "compose project, label `project` on every alert"),
    S("DOMAIN", "localhost", "host", "the site's name: Host and TLS name of the health probe"),
    # --- Prometheus ------------------------------------------------------------------------
    S("PROMETHEUS_SCRAPE_INTERVAL", "30s", "duration", "how often every target is read"),
    S("PROMETHEUS_EVALUATION_INTERVAL", "30s", "duration", "how often the alert rules are evaluated"),
    S("PROMETHEUS_RETENTION_TIME", "30d", "duration", "how long samples are kept"),
    S("PROMETHEUS_RETENTION_SIZE", "2GB", "size", "most disk the samples may use (oldest dropped first)"),
    S("PROMETHEUS_EXTERNAL_URL", "http://127.0.0.1:9090/prometheus/", "url",
      "URL operators open Prometheus at (links in mails)"),
    # --- Alertmanager ------------------------------------------------------------------------
    S("ALERTMANAGER_EXTERNAL_URL", "http://127.0.0.1:9093/alertmanager/", "url",
      "URL operators open Alertmanager at (links in mails)"),
    S("ALERTMANAGER_GROUP_WAIT", "30s", "duration", "wait before the first mail of a new alert group"),
    S("ALERTMANAGER_GROUP_INTERVAL", "5m", "duration", "wait before mailing changes to a group"),
    S("ALERTMANAGER_REPEAT_INTERVAL", "4h", "duration", "mail again about an alert still firing after this"),
    S("ALERT_EMAIL_TO", "", "emails", "who gets alert mails, comma separated (default ADMIN_EMAIL)", optional=True),
    S("ALERT_EMAIL_FROM", "", "email", "sender of alert mails (default EMAIL_FROM, else dfr-alerts@DOMAIN)",
      optional=True),
    S("SMTP_SERVER", "", "host", "the environment's SMTP relay; empty: the mail catcher", optional=True),
    S("SMTP_PORT", "25", "port", "port of the SMTP relay (465 = TLS from the start)"),
    S("SMTP_SSL", "False", "bool", "STARTTLS required with the relay (Odoo's smtp_ssl)"),
    S("SMTP_USER", "", "user", "login at the relay; its password is the secret file smtp_password",
      optional=True),
    S("MAILCATCHER_ADDRESS", "mailcatcher:1025", "hostport", "where mail goes when SMTP_SERVER is empty"),
    S("ALERT_WEBHOOK_URL", "", "url", "also POST alerts here (JSON); bearer token: secret alert_webhook_token",
      optional=True),
    S("MAILCATCHER_MAX_MESSAGE_BYTES", "10485760", "integer", "mail catcher: largest message accepted"),
    S("MAILCATCHER_MAX_TOTAL_BYTES", "33554432", "integer", "mail catcher: memory for messages (oldest dropped)"),
    # --- alert thresholds (monitoring/prometheus/dfr-alerts.yml) -----------------------------
    S("ALERT_POSTGRES_DOWN_FOR", "1m", "duration", "PostgresDown: database unreachable this long"),
    S("ALERT_ODOO_DOWN_FOR", "2m", "duration", "OdooDown: health probe failing this long"),
    S("ALERT_NGINX_DOWN_FOR", "1m", "duration", "NginxDown: nginx unreachable this long"),
    S("ALERT_TARGET_DOWN_FOR", "5m", "duration", "MonitoringTargetDown: a target unreadable this long"),
    S("ALERT_HTTP_5XX_RATIO", "0.05", "ratio", "HighErrorRate: share of 5xx answers over 5 minutes"),
    S("ALERT_HTTP_5XX_MIN_COUNT", "10", "number", "HighErrorRate: and at least this many 5xx in 5 minutes"),
    S("ALERT_HTTP_5XX_FOR", "5m", "duration", "HighErrorRate: for this long"),
    S("ALERT_P95_SECONDS", "3", "number", "SlowResponses: 95th percentile of request time above this"),
    S("ALERT_SLOW_FOR", "10m", "duration", "SlowResponses: for this long"),
    S("ALERT_CONNECTIONS_RATIO", "0.8", "ratio", "TooManyConnections: share of max_connections in use"),
    S("ALERT_CONNECTIONS_FOR", "5m", "duration", "TooManyConnections: for this long"),
    S("ALERT_WAL_FAILING_WINDOW", "10m", "duration", "WALArchiveFailing: a failed archive attempt in this window"),
    S("ALERT_WAL_LAG_MARGIN_SECONDS", "300", "number",
      "WALArchiveLagging: last archive older than 2 x archive_timeout + this, with segments waiting"),
    S("ALERT_BACKUP_MAX_AGE", "26h", "duration", "BackupMissing: no good logical backup for this long"),
    S("ALERT_BASEBACKUP_MAX_AGE", "8d", "duration", "BaseBackupMissing: no good base backup for this long"),
    S("ALERT_DRILL_MAX_AGE", "8d", "duration", "DrillMissing: no restore drill for this long"),
    S("ALERT_DISK_FREE_RATIO", "0.10", "ratio", "DiskAlmostFull: free share of the backup or volumes disk"),
    S("ALERT_DISK_FOR", "10m", "duration", "DiskAlmostFull: for this long"),
    S("ALERT_CERT_WARNING_DAYS", "20", "number", "CertificateExpiring (warning): days left"),
    S("ALERT_CERT_CRITICAL_DAYS", "3", "number", "CertificateExpiring (critical): days left"),
]
BY_NAME = {s.name: s for s in SETTINGS}


def seconds(duration):
    """Seconds in a Prometheus duration such as 1h30m."""
    return sum(int(n) * UNIT_SECONDS[unit] for n, unit in DURATION_PART.findall(duration))


def check(setting, raw):
    """The value of `setting` given `raw` (empty = default), or SettingError saying what to write."""
    value = raw.strip() if raw is not None else ""
    if value == "":
        value = setting.default
    if value == "" and setting.optional:
        return ""
    kind = setting.kind
    if kind == "duration":
        ok = bool(DURATION.fullmatch(value)) and seconds(value) > 0
        expected = "a duration such as 30s, 5m, 26h or 8d"
    elif kind in ("ratio", "number"):
        ok = bool(NUMBER.fullmatch(value)) and (kind == "number" or 0 < float(value) < 1)
        expected = "a number between 0 and 1 such as 0.05" if kind == "ratio" else "a number such as 3 or 0.5"
    elif kind == "bool":
        ok = value.lower() in BOOLEANS
        expected = "True or False"
    else:
        ok = bool(PATTERNS[kind].fullmatch(value))
        expected = {"label": "letters, digits, dot, dash, underscore", "host": "a host name",
                    "hostport": "host:port", "port": "a port number", "size": "a size such as 2GB",
                    "url": "an http(s) URL", "emails": "addresses separated by commas",
                    "email": "one mail address", "user": "a login without spaces or quotes",
                    "integer": "a whole number"}[kind]
    if kind == "port" and ok:
        ok = int(value) <= 65535
    if not ok:
        raise SettingError(f"{setting.name}={value!r} is not valid: write {expected} "
                           f"(meaning: {setting.meaning}) in config/<env>.env")
    if kind == "bool":
        return "true" if BOOLEANS[value.lower()] else "false"
    return value


def load(environ=None):
    """Every setting, checked: {name: value}. Raises SettingError on the first bad one."""
    environ = os.environ if environ is None else environ
    return {s.name: check(s, environ.get(s.name, "")) for s in SETTINGS}


def placeholders(values):
    """The ${NAME} values the rule file may use: each setting, and NAME_SECONDS for durations."""
    out = dict(values)
    for s in SETTINGS:
        if s.kind == "duration":
            out[f"{s.name}_SECONDS"] = str(int(seconds(values[s.name])))
    return out
