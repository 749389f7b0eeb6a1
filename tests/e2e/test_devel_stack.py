"""Acceptance 1, 4, 7: the development stack from nothing, through nginx, healing, persistence."""
import json
import time

import pytest

from dfr_deploy.commands import stack
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
