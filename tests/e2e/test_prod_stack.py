"""Production layout with workers; no secret anywhere it should not be (issue 12, test 3); every
service hardened (issue 12, test 4)."""
import json
import re

import pytest

from dfr_deploy import secrets
from dfr_deploy.commands import stack
from .conftest import docker_out
from .http import request, websocket_handshake


@pytest.fixture(scope="module")
def prod(make_stack):
    s = make_stack("prod", WORKERS="2")
    s.deploy()
    return s


def secret_values(s):
    """Every secret of the stack that has a value (the optional ones, such as the SMTP password,
    may be empty); the four every stack needs must be among them."""
    found = {name: secrets.read(s.env, name) for name in secrets.FILES}
    assert all(found[name] for name in ("postgres_password", "db_password", "odoo_admin_passwd",
                                        "admin_user_password")), sorted(n for n, v in found.items() if v)
    return [v for v in found.values() if v]


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


# Any compiler, assembler or linker, by package (gcc-12-base is the runtime's changelog and
# licence, no compiler) or by the name of anything executable on PATH.
TOOLCHAIN_PACKAGE = re.compile(r"^(?!.*-base$)(gcc|g\+\+|cpp|clang|llvm|binutils|tcc|nasm|yasm|gfortran|gccgo|rustc|golang)"
                               r"([-.0-9].*)?$")
TOOLCHAIN_BINARY = re.compile(r"^(.*-)?(gcc|g\+\+|cc|c\+\+|cpp|clang(\+\+)?|as|ld(\.bfd|\.gold)?|tcc|nasm|yasm|"
                              r"gfortran|rustc|go|make)(-[0-9.]+)?$")


def test_final_image_has_no_compiler_or_assembler(prod):
    image = prod.env.image("odoo")
    packages = docker_out("run", "--rm", "--entrypoint", "dpkg-query", image, "-W", "-f", "${Package}\n").split()
    assert len(packages) > 50, "dpkg-query listed the image's packages"
    assert [p for p in packages if TOOLCHAIN_PACKAGE.match(p)] == []
    listing = docker_out("run", "--rm", "--entrypoint", "find", image, "/usr/local/sbin", "/usr/local/bin",
                         "/usr/sbin", "/usr/bin", "/sbin", "/bin", "-maxdepth", "1", "(", "-type", "f", "-o", "-type",
                         "l", ")", "-perm", "/111", "-printf", "%f\n")
    names = set(listing.split())
    assert "python3" in names and "sh" in names, "the scan sees the image's programs"
    assert sorted(n for n in names if TOOLCHAIN_BINARY.match(n)) == []


def test_no_secret_in_any_container_environment(prod):
    """docker inspect of every running container and its PID 1's environment: no secret value."""
    values = secret_values(prod)
    for service in ("db", "odoo", "nginx"):
        cid = prod.container(service)
        inspect = docker_out("inspect", cid)
        assert not [v for v in values if v in inspect], f"a secret is in `docker inspect` of {service}"
        uid = docker_out("exec", cid, "stat", "-c", "%u", "/proc/1").strip()
        environ = docker_out("exec", "-u", uid, cid, "cat", "/proc/1/environ")
        assert "PATH=" in environ, f"read /proc/1/environ of {service}"
        assert not [v for v in values if v in environ], f"a secret is in /proc/1/environ of {service}"
        assert "_FILE=/run/secrets/" in inspect or service == "nginx"


def test_every_service_runs_hardened(prod):
    """CIS Docker Benchmark section 5, read back from the running containers."""
    for service in ("db", "odoo", "nginx"):
        host = json.loads(docker_out("inspect", prod.container(service)))[0]["HostConfig"]
        assert host["CapDrop"] == ["ALL"], service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["ReadonlyRootfs"] is True, service
        assert host["PidsLimit"] and host["PidsLimit"] > 0, service
        assert host["Memory"] > 0, service
        assert not set(host.get("CapAdd") or []) & {"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "ALL"}, service
    networks = {service: set(json.loads(docker_out("inspect", prod.container(service)))[0]["NetworkSettings"]
                             ["Networks"]) for service in ("db", "odoo", "nginx")}
    assert not networks["nginx"] & networks["db"], "nginx has a route to the database"
    assert networks["nginx"] & networks["odoo"]


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


def test_production_refuses_a_default_password(prod, tmp_path):
    # The entrypoint's own guard (defence in depth behind the deploy task's check), fed the
    # way compose feeds it: a secret file.
    weak = tmp_path / "odoo_admin_passwd"
    weak.write_text("admin")
    weak.chmod(0o600)
    code, logs = prod.run_once("odoo", environment={"ODOO_ADMIN_PASSWD_FILE": "/run/dfr-test/odoo_admin_passwd"},
                               volumes=[f"{weak}:/run/dfr-test/odoo_admin_passwd:ro"])
    assert code == 78
    assert "ODOO_ADMIN_PASSWD is missing or a default value" in logs


def test_wkhtmltopdf_renders_a_pdf_headless(prod):
    """Odoo prints reports with wkhtmltopdf: it must work in the final image as uid 1000."""
    out = docker_out("exec", prod.container("odoo"), "sh", "-c",
                     "cd /tmp && echo '<h1>Farmer 42</h1>' > r.html && wkhtmltopdf -q r.html r.pdf && head -c 5 r.pdf")
    assert out.startswith("%PDF-")


def test_production_never_answers_admin_admin_and_refuses_to_serve_it(prod):
    """Issue 12, test 2: after `deploy --env=prod`, admin/admin fails and the generated password
    works (through nginx, over HTTPS); a database whose admin user is set back to `admin` makes
    the next deploy stop nginx and fail, saying what to do; `invoke admin-password` mends it."""
    from passlib.context import CryptContext

    from .backup_helpers import invoke
    from .real_odoo.odoo_checks import login

    https = prod.ports["NGINX_HTTPS_PORT"]
    generated = secrets.read(prod.env, "admin_user_password")
    assert login(https, "dfr", "admin", "admin") is False
    assert login(https, "dfr", "admin", generated) == 2
    # someone (a restored copy, an old database) brings the well-known password back
    weak = CryptContext(["pbkdf2_sha512"]).hash("admin")
    prod.exec_db(f"UPDATE res_users SET password = '{weak}' WHERE id = 2")
    assert login(https, "dfr", "admin", "admin") == 2
    assert "WARNING" in invoke(prod, "status").stdout
    refused = invoke(prod, "deploy")
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert "admin" in last and "invoke admin-password --env=prod" in last and "nginx was stopped" in last, last
    assert prod.compose("ps", "-q", "nginx")[1].strip() == "", "nobody reaches the site meanwhile"
    mended = invoke(prod, "admin-password")
    assert mended.returncode == 0, mended.stderr
    again = invoke(prod, "deploy")
    assert again.returncode == 0, again.stderr
    assert login(https, "dfr", "admin", "admin") is False
    assert login(https, "dfr", "admin", generated) == 2
