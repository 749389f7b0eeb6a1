"""Acceptance 1, 4, 7: the development stack from nothing, through nginx, healing, persistence;
the tasks an operator runs on it (issue 11): status --json, logs, stop --purge (last)."""
import json
import os
import subprocess
import time

import pytest

from dfr_deploy.commands import stack
from dfr_deploy.environments import MONITORING_SERVICES
from .backup_helpers import invoke
from .conftest import docker_out
from .http import request, upload_too_large, wait_until, websocket_handshake


@pytest.fixture(scope="module")
def devel(make_stack):
    s = make_stack("devel")
    s.deploy()
    return s


def test_deploy_from_nothing_is_healthy_and_reports_status(devel):
    report = stack.status(devel.env)
    assert report["healthy"], report
    # devel catches Odoo's mail (nothing leaves a developer's machine)
    assert {s["service"]: s["health"] for s in report["services"]} == {
        "db": "healthy", "odoo": "healthy", "nginx": "healthy", "mailcatcher": "healthy"}
    assert all(s["image"].startswith("dfr-test/") for s in report["services"])
    json.dumps(report)  # machine-readable as-is


def test_health_answers_through_nginx_over_https(devel):
    status, headers, body = request(devel.ports["NGINX_HTTPS_PORT"], "/web/health")
    assert status == 200 and json.loads(body)["status"] == "pass"
    assert "max-age=" in headers.get("Strict-Transport-Security", "")
    assert "nginx/" not in headers.get("Server", "")  # server_tokens off
    status, _, body = request(devel.ports["NGINX_HTTPS_PORT"], "/web/health?db_server_status=1")
    assert status == 200 and json.loads(body)["db_server_status"] is True


def test_http_redirects_to_https_on_the_published_port(devel):
    status, headers, _ = request(devel.ports["NGINX_HTTP_PORT"], "/web/login?x=1", tls=False,
                                 headers={"Host": "localhost"})
    assert status == 301
    assert headers["Location"] == f"https://localhost:{devel.ports['NGINX_HTTPS_PORT']}/web/login?x=1"


def test_upload_over_100_mb_gets_a_clear_413(devel):
    status, body = upload_too_large(devel.ports["NGINX_HTTPS_PORT"], "/web/binary/upload_attachment?name=big.bin",
                                    101 * 1024 * 1024)
    assert status == 413
    assert b"100" in body and b"large" in body.lower()


def test_websocket_upgrade_reaches_odoo_in_threaded_mode(devel):
    status, headers, echo = websocket_handshake(devel.ports["NGINX_HTTPS_PORT"], host=f"localhost:{devel.ports['NGINX_HTTPS_PORT']}")
    assert status == 101, headers
    assert echo == b"hello farmer registry"
    # the /longpolling alias goes to the same place
    assert websocket_handshake(devel.ports["NGINX_HTTPS_PORT"], path="/longpolling")[0] == 101
    # like Odoo, a handshake without Origin is refused
    assert websocket_handshake(devel.ports["NGINX_HTTPS_PORT"], origin=False)[0] == 400


def test_odoo_and_postgres_published_on_loopback_for_developers(devel):
    status, _, body = request(devel.ports["ODOO_PUBLISHED_PORT"], "/web/health", tls=False)
    assert status == 200
    ports = devel.compose("port", "db", "5432")[1].strip()
    assert ports == f"127.0.0.1:{devel.ports['DB_PUBLISHED_PORT']}"


def test_data_filestore_and_wal_archive_survive_stop_and_deploy(devel):
    https = devel.ports["NGINX_HTTPS_PORT"]
    devel.exec_db("CREATE TABLE farmer (id serial PRIMARY KEY, name text); "
                  "INSERT INTO farmer (name) SELECT 'farmer ' || g FROM generate_series(1, 500) g")
    status, _, body = request(https, "/web/binary/upload_attachment?name=id-card.png", method="POST",
                              body=b"\x89PNG farmer id card" * 100)
    assert status == 200, body
    attachment = json.loads(body)
    devel.exec_db("SELECT pg_switch_wal()")
    archived = wait_until(lambda: [f for f in devel.compose("exec", "-T", "db", "ls", "/wal_archive")[1].split()
                                   if f.endswith(".zst") and len(f) == 28], 60, what="a WAL segment in /wal_archive")
    stack.stop(devel.env)
    assert devel.compose("ps", "-q")[1].strip() == ""
    devel.deploy()
    assert devel.exec_db("SELECT count(*) FROM farmer") == "500"
    status, _, content = request(https, f"/web/content/{attachment['id']}")
    assert status == 200 and content == b"\x89PNG farmer id card" * 100
    after = devel.compose("exec", "-T", "db", "ls", "/wal_archive")[1].split()
    assert set(archived) <= set(after)


def test_stopping_db_turns_odoo_unhealthy_and_starting_it_heals(devel):
    odoo = devel.container("odoo")

    def health():
        from .conftest import docker_out
        return docker_out("inspect", "-f", "{{.State.Health.Status}}", odoo).strip()

    devel.compose("stop", "db")
    wait_until(lambda: health() == "unhealthy", 90, what="odoo to turn unhealthy")
    devel.compose("start", "db")
    wait_until(lambda: health() == "healthy", 120, what="odoo to heal")
    assert stack.status(devel.env)["healthy"] or wait_until(lambda: stack.status(devel.env)["healthy"], 60)


def test_deploy_twice_is_safe(devel):
    before = devel.container("db")
    started = time.monotonic()
    devel.deploy()
    assert devel.container("db") == before  # nothing recreated
    assert time.monotonic() - started < 120


# ---------------------------------------------------------------- the tasks as an operator runs them
# (issue 11: claims with no test): `invoke status --json`, `invoke logs`, `invoke stop --purge`.

def test_status_json_is_the_report_with_services_health_and_urls(devel):
    done = invoke(devel, "status", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)     # nothing but the JSON document on stdout
    assert report["environment"] == "devel" and report["project"] == devel.env.project_name
    assert report["healthy"] is True
    services = {s["service"]: s for s in report["services"]}
    assert sorted(services) == ["db", "mailcatcher", "nginx", "odoo"]
    for service in services.values():
        assert (service["state"], service["health"]) == ("running", "healthy"), service
        assert service["image"].startswith("dfr-test/"), service
    published = {(p["URL"], p["PublishedPort"]) for p in services["nginx"]["ports"] if p.get("PublishedPort")}
    assert ("127.0.0.1", devel.ports["NGINX_HTTPS_PORT"]) in published, services["nginx"]["ports"]
    assert report["urls"]["odoo"] == f"https://localhost:{devel.ports['NGINX_HTTPS_PORT']}/"
    assert report["urls"]["odoo_direct"] == f"http://127.0.0.1:{devel.ports['ODOO_PUBLISHED_PORT']}/"
    assert report["alerts"] == [] and isinstance(report["jobs"], list)
    assert all({"job", "schedule", "installed", "last_run"} <= set(job) for job in report["jobs"]), report["jobs"]


def test_logs_of_one_service_print_its_last_lines(devel):
    done = invoke(devel, "logs", "--service=odoo", "--tail=5", timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 5, done.stdout
    # compose prefixes each line with the container's service name: odoo's lines, no other's
    assert all(line.split("|", 1)[0].strip() == "odoo-1" for line in lines), lines
    odoo = devel.container("odoo")
    full = subprocess.run(["docker", "logs", odoo], capture_output=True, text=True, timeout=60)
    said = full.stdout + full.stderr
    assert len(said.splitlines()) > 5, "odoo has said more than the five lines asked for"
    for line in lines:
        assert line.split("|", 1)[1].strip() in said, line
    refused = invoke(devel, "logs", "--service=postgres", timeout=120)
    assert refused.returncode == 1
    assert refused.stderr.strip() == ("error: unknown service 'postgres': use one of db, odoo, nginx, acme, "
                                      "mailcatcher, " + ", ".join(MONITORING_SERVICES)), refused.stderr


def test_stop_purge_outside_devel_is_refused_without_force(engine, tmp_path):
    """A staging project that does not exist, but for one volume that looks like its odoo_data
    (compose's labels): without --force nothing is touched; with --force compose removes it."""
    from types import SimpleNamespace

    from dfr_deploy import environments

    name = f"dfrt{os.urandom(3).hex()}"
    staging = SimpleNamespace(env=environments.resolve("staging", overrides={
        "PROJECT_NAME": name, "DFR_SECRETS_DIR": str(tmp_path / "secrets"), "BACKUP_DIR": str(tmp_path / "backups"),
        "METRICS_DIR": str(tmp_path / "metrics")}))
    project = staging.env.project_name
    assert project == f"{name}-staging" and volumes_of(project) == []
    volume = docker_out("volume", "create", "--label", f"com.docker.compose.project={project}",
                        "--label", "com.docker.compose.volume=odoo_data", f"{project}_odoo_data").strip()
    try:
        refused = invoke(staging, "stop", "--purge", timeout=120)
        assert refused.returncode == 1
        assert refused.stderr.strip() == ("error: --purge deletes every database, file and WAL archive of staging: "
                                          "add --force if you really mean it"), refused.stderr
        assert volumes_of(project) == [volume]
        forced = invoke(staging, "stop", "--purge", "--force", timeout=120)
        assert forced.returncode == 0, forced.stderr
        assert volumes_of(project) == []
    finally:
        docker_out("volume", "rm", "-f", volume, retcode=None)


def volumes_of(project):
    return sorted(docker_out("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}").split())


# ---------------------------------------------------------------- keep last: it deletes the stack's data
def test_stop_purge_in_devel_removes_the_containers_and_every_volume(devel):
    project = devel.env.project_name
    before = volumes_of(project)
    assert {f"{project}_odoo_data", f"{project}_wal_archive", devel.env.postgres_volume} <= set(before), before
    done = invoke(devel, "stop", "--purge", timeout=300)
    assert done.returncode == 0, done.stderr
    assert volumes_of(project) == []
    assert devel.compose("ps", "--all", "-q")[1].strip() == ""
    for volume in before:
        assert subprocess.run(["docker", "volume", "inspect", volume], capture_output=True,
                              timeout=60).returncode != 0, f"{volume} is still there"
