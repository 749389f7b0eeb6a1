"""The deployment environments and the settings each one runs with.

An environment is a list of compose layers, a settings file (config/<env>.env, not secret,
rendered by copier) and a secrets folder (.docker/<env>/, one file per secret, ignored by git). Variables from the process environment win over the settings file, as in compose.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from . import ROOT
from .errors import DfrError

LAYERS = {
    "devel": ("common.yaml", "devel.yaml"),
    "staging": ("common.yaml", "server.yaml", "staging.yaml"),
    "prod": ("common.yaml", "server.yaml", "prod.yaml"),
}
ALIASES = {"dev": "devel", "development": "devel", "production": "prod", "stage": "staging"}
# Monitoring (monitoring/README.md): on by default in staging and prod (MONITORING=false turns it
# off), off in devel unless MONITORING=true. The mail catcher: always in devel, in staging when
# no SMTP relay is set; never in prod. Order matters: after the environment's own layers.
MONITORING_LAYERS = {
    "devel": ("monitoring.yaml", "monitoring/compose/devel.yaml"),
    "staging": ("monitoring.yaml", "monitoring/compose/server.yaml"),
    "prod": ("monitoring.yaml", "monitoring/compose/server.yaml"),
}
MAILCATCHER_LAYERS = {
    "devel": ("monitoring/compose/mailcatcher.yaml", "monitoring/compose/mailcatcher-devel.yaml"),
    "staging": ("monitoring/compose/mailcatcher.yaml",),
}
# TLS_MODE -> the compose layer that brings the certificate (self-signed needs none)
TLS_LAYERS = {"acme": ("acme.yaml",), "files": ("acme/compose/files.yaml",)}
MONITORING_SERVICES = ("prometheus", "alertmanager", "postgres-exporter", "nginx-exporter",
                       "node-exporter", "blackbox-exporter", "mtail")
TRUE = ("1", "true", "yes", "on")


@dataclass
class Environment:
    name: str
    root: Path = ROOT
    overrides: dict = field(default_factory=dict)

    @property
    def tls_mode(self):
        """TLS_MODE of config/<env>.env; devel is self-signed unless it says otherwise, staging and
        prod have no default (stack.tls.check_settings refuses them without one)."""
        return self.get("TLS_MODE", "self-signed" if self.name == "devel" else "")

    @property
    def monitoring(self):
        if self.overrides.get("DFR_LAYERS"):
            return False
        return self.get("MONITORING", "false" if self.name == "devel" else "true").lower() in TRUE

    @property
    def mailcatcher(self):
        if self.overrides.get("DFR_LAYERS"):
            return False
        return self.name == "devel" or (self.name == "staging" and not self.get("SMTP_SERVER"))

    @property
    def compose_files(self):
        """The environment's compose layers, monitoring and mail catcher included when on
        (DFR_LAYERS, comma separated, replaces them all: a restore drill's throwaway stack runs
        common.yaml + drill.yaml)."""
        custom = self.overrides.get("DFR_LAYERS", "")
        if custom:
            return [self.root / layer for layer in custom.split(",")]
        layers = list(LAYERS[self.name]) + list(TLS_LAYERS.get(self.tls_mode, ()))
        if self.monitoring:
            layers += MONITORING_LAYERS[self.name]
            if not self.bundled_db:
                layers.append("monitoring/compose/external-db.yaml")
        if self.mailcatcher:
            layers += MAILCATCHER_LAYERS[self.name]
        return [self.root / layer for layer in layers]

    def _folder(self, key, kind):
        """BACKUP_DIR / METRICS_DIR: absolute, default <root>/<kind>/<env> (said once, here)."""
        value = self.get(key, "")
        path = Path(value).expanduser() if value else self.root / kind / self.name
        return path if path.is_absolute() else self.root / path

    @property
    def backup_folder(self):
        return self._folder("BACKUP_DIR", "backups")

    @property
    def metrics_folder(self):
        return self._folder("METRICS_DIR", "metrics")

    @property
    def settings_file(self):
        return self.root / "config" / f"{self.name}.env"

    @property
    def secrets_dir(self):
        """.docker/<env>/ unless DFR_SECRETS_DIR says otherwise (tests, secrets on another disk)."""
        custom = self.overrides.get("DFR_SECRETS_DIR") or os.environ.get("DFR_SECRETS_DIR")
        return Path(custom) if custom else self.root / ".docker" / self.name

    @property
    def settings(self):
        """config/<env>.env, overridden by the process environment and explicit overrides."""
        values = {k: v for k, v in dotenv_values(self.settings_file).items() if v is not None}
        values.update(os.environ)
        values.update(self.overrides)
        return values

    def get(self, key, default=""):
        value = self.settings.get(key, "")
        return value if value != "" else default

    @property
    def project_name(self):
        """<PROJECT_NAME>-<env>, or DFR_PROJECT (a restore drill's throwaway stack)."""
        return self.overrides.get("DFR_PROJECT") or f"{self.get('PROJECT_NAME', 'dfr')}-{self.name}"

    @property
    def bundled_db(self):
        """True unless DB_HOST names an external PostgreSQL server."""
        return self.get("DB_HOST", "db") == "db"

    @property
    def services(self):
        """The compose services this environment runs (db only with the bundled database)."""
        core = ("db", "odoo", "nginx") if self.bundled_db else ("odoo", "nginx")
        core += ("acme",) if self.tls_mode in TLS_LAYERS and not self.overrides.get("DFR_LAYERS") else ()
        return core + (MONITORING_SERVICES if self.monitoring else ()) + (("mailcatcher",) if self.mailcatcher else ())

    def image(self, service):
        return f"{self.get('IMAGE_REGISTRY', 'dfr')}/{service}:{self.get('IMAGE_TAG', self.name)}"

    @property
    def volumes_file(self):
        """Local state written by point-in-time recovery: which volume holds the live cluster."""
        return self.secrets_dir / "volumes.env"

    @property
    def postgres_volume(self):
        """The docker volume of the live cluster: POSTGRES_DATA_VOLUME (set by a point-in-time
        restore in volumes.env, or by hand), else compose's default `<project>_postgres_data`."""
        chosen = self.get("POSTGRES_DATA_VOLUME", "")
        if not chosen and self.volumes_file.exists():
            chosen = dotenv_values(self.volumes_file).get("POSTGRES_DATA_VOLUME") or ""
        return chosen or f"{self.project_name}_postgres_data"

    @property
    def compose_env(self):
        """Variables compose needs on top of the settings file (explicit overrides included)."""
        return {
            **self.overrides,
            "COMPOSE_PROJECT_NAME": self.project_name,
            "DFR_ENV": self.name,
            "DFR_SECRETS_DIR": str(self.secrets_dir),
            "POSTGRES_DATA_VOLUME": self.postgres_volume,
            # node-exporter reads the jobs' metrics and watches the backup disk
            "METRICS_DIR": str(self.metrics_folder),
            "BACKUP_DIR": str(self.backup_folder),
        }

    def urls(self):
        https_port = self.get("NGINX_HTTPS_PORT", "443")
        host = self.get("DOMAIN", "localhost")
        suffix = "" if https_port == "443" else f":{https_port}"
        urls = {"odoo": f"https://{host}{suffix}/"}
        if self.name == "devel":
            address = self.get("PUBLISH_ADDRESS", "127.0.0.1")
            urls["odoo_direct"] = f"http://{address}:{self.get('ODOO_PUBLISHED_PORT', '8069')}/"
            urls["postgres"] = f"postgresql://{address}:{self.get('DB_PUBLISHED_PORT', '5433')}/{self.get('DB_NAME', 'dfr')}"
            urls["debugpy"] = f"{address}:{self.get('DEBUGPY_PUBLISHED_PORT', '5678')}"
        if self.monitoring:
            if self.name == "devel":
                urls["prometheus"] = (f"http://127.0.0.1:{self.get('PROMETHEUS_PUBLISHED_PORT', '9090')}"
                                      "/prometheus/consoles/dfr-overview.html")
                urls["alertmanager"] = f"http://127.0.0.1:{self.get('ALERTMANAGER_PUBLISHED_PORT', '9093')}/alertmanager/"
            else:
                port = self.get("MONITORING_HTTPS_PORT", "9443")
                urls["monitoring"] = (f"https://{host}:{port}/  (user dfr, password in "
                                      f"{self.secrets_dir}/monitoring_web_password)")
        if self.mailcatcher and self.name == "devel":
            urls["mail"] = f"http://127.0.0.1:{self.get('MAILCATCHER_PUBLISHED_PORT', '8025')}/"
        return urls


def resolve(name, root=ROOT, overrides=None):
    """The Environment called `name` (aliases accepted), or a DfrError listing the valid ones."""
    key = ALIASES.get((name or "").lower(), (name or "").lower())
    if key not in LAYERS:
        raise DfrError(f"unknown environment {name!r}: use one of {', '.join(LAYERS)} (e.g. --env=devel)")
    env = Environment(key, Path(root), dict(overrides or {}))
    if not env.settings_file.exists():
        raise DfrError(f"settings file {env.settings_file} is missing: restore it from the template (copier update) or git")
    return env
