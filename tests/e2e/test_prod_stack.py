"""Acceptance 2 and 6: production layout with workers, and no secret anywhere it should not be."""
import json

import pytest
from dotenv import dotenv_values

from dfr_deploy import stack
from .conftest import docker_out
from .http import request, websocket_handshake


@pytest.fixture(scope="module")
def prod(make_stack):
    s = make_stack("prod", WORKERS="2")
    s.deploy()
    return s


def secret_values(s):
    values = []
    for name in ("db.env", "odoo.env"):
        values += [v for v in dotenv_values(s.env.secrets_dir / name).values() if v]
    assert len(values) == 4
    return values


def test_prod_is_healthy_behind_https(prod):
    assert stack.status(prod.env)["healthy"]
    status, _, body = request(prod.ports["NGINX_HTTPS_PORT"], "/web/health?db_server_status=1")
    assert status == 200 and json.loads(body)["status"] == "pass"
    status, headers, _ = request(prod.ports["NGINX_HTTP_PORT"], "/", tls=False, headers={"Host": "localhost"})
    assert status == 301 and headers["Location"].startswith(f"https://localhost:{prod.ports['NGINX_HTTPS_PORT']}/")


def test_websocket_goes_to_the_gevent_port_with_workers(prod):
    https = prod.ports["NGINX_HTTPS_PORT"]
    status, headers, echo = websocket_handshake(https, host=f"localhost:{https}")
    assert status == 101, headers
    assert echo == b"hello farmer registry"
    # like Odoo with workers, the main port cannot bind a websocket (500): so the 101 above
    # proves nginx sent it to the gevent port 8072
    odoo = prod.container("odoo")
    code = docker_out("exec", odoo, "python3", "-c",
                      "import http.client as h; c=h.HTTPConnection('127.0.0.1',8069,timeout=5); "
                      "c.request('GET','/websocket',headers={'Upgrade':'websocket','Connection':'Upgrade',"
                      "'Sec-WebSocket-Key':'dGhlIHNhbXBsZSBub25jZQ==','Sec-WebSocket-Version':'13','Origin':'http://x'}); "
                      "print(c.getresponse().status)").strip()
    assert code == "500"


def test_only_nginx_publishes_ports(prod):
    for service in ("db", "odoo"):
        cid = prod.container(service)
        assert docker_out("port", cid).strip() == ""
    nginx_ports = docker_out("port", prod.container("nginx"))
    assert f"127.0.0.1:{prod.ports['NGINX_HTTPS_PORT']}" in nginx_ports


def test_odoo_runs_as_uid_1000(prod):
    top = docker_out("top", prod.container("odoo"), "-eo", "pid,uid,args")
    odoo_lines = [line for line in top.splitlines()[1:] if "odoo" in line and "docker-init" not in line]
    assert odoo_lines, top
    assert all(line.split()[1] == "1000" for line in odoo_lines), top


def test_final_image_has_no_compiler(prod):
    image = prod.env.image("odoo")
    found = docker_out("run", "--rm", "--entrypoint", "sh", image, "-c",
                       "for c in gcc cc g++ c++ make x86_64-linux-gnu-gcc-12; do command -v $c; done; true")
    assert found.strip() == ""


def test_no_secret_in_image_history_inspect_process_list_or_logs(prod):
    values = secret_values(prod)
    places = {}
    for service in ("odoo", "postgres", "nginx"):
        image = prod.env.image(service)
        places[f"history {service}"] = docker_out("history", "--no-trunc", image)
        places[f"inspect {service}"] = docker_out("image", "inspect", image)
    for service in ("db", "odoo", "nginx"):
        places[f"ps {service}"] = docker_out("top", prod.container(service), "-eo", "pid,args")
    places["logs"] = prod.compose("logs", "--no-color")[1]
    for where, text in places.items():
        for value in values:
            assert value not in text, f"a secret appears in {where}"


def test_production_refuses_a_default_password(prod):
    # The entrypoint's own guard (defence in depth behind the deploy task's check).
    code, logs = prod.run_once("odoo", environment={"ODOO_ADMIN_PASSWD": "admin"})
    assert code == 78
    assert "ODOO_ADMIN_PASSWD is missing or a default value" in logs


def test_wkhtmltopdf_renders_a_pdf_headless(prod):
    """Odoo prints reports with wkhtmltopdf: it must work in the final image as uid 1000."""
    out = docker_out("exec", prod.container("odoo"), "sh", "-c",
                     "cd /tmp && echo '<h1>Farmer 42</h1>' > r.html && wkhtmltopdf -q r.html r.pdf && head -c 5 r.pdf")
    assert out.startswith("%PDF-")
