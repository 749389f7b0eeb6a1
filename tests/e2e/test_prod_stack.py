"""Production layout with workers; no secret anywhere it should not be (issue 12, test 3); every
service hardened (issue 12, test 4). nginx's claims (issue 11): TLS 1.2/1.3 only, gzip, the static
and asset cache with and without a session, the security headers, the login rate limit (last)."""
import gzip
import json
import os
import re
import socket
import ssl
import warnings

import pytest

from dfr_deploy import secrets
from dfr_deploy.commands import stack
from .conftest import docker_out
from .http import connection, request, websocket_handshake


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


# ---------------------------------------------------------------- TLS, compression, cache, headers
# (issue 11: claims with no test). Requests go through nginx's published HTTPS port only.

def handshake(port, version, seclevel0=False):
    """A TLS handshake offering exactly `version`: the version agreed, or the ssl.SSLError."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # TLSVersion.TLSv1 and TLSv1_1
        context.minimum_version = context.maximum_version = version
    if seclevel0:
        # OpenSSL 3 would not even offer TLS 1.0/1.1 (SHA-1 signatures) at its default security
        # level: level 0 makes this client ask, so that the refusal is the server's.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"GET /web/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            answer = b""
            while len(answer) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            return sock.version(), answer
    except ssl.SSLError as error:
        return None, error
    finally:
        raw.close()


def test_tls_1_2_and_1_3_accepted_1_0_and_1_1_refused_by_the_server(prod):
    assert ssl.HAS_TLSv1 and ssl.HAS_TLSv1_1, "this Python's OpenSSL cannot offer TLS 1.0/1.1: the refusal cannot be checked"
    https = prod.ports["NGINX_HTTPS_PORT"]
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        agreed, answer = handshake(https, version)
        assert agreed == name, answer
        assert answer.startswith(b"HTTP/1.1 200") and b'"pass"' in answer, answer[:200]
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        agreed, error = handshake(https, version, seclevel0=True)
        assert agreed is None, f"nginx accepted {agreed}"
        # an alert *received* from the server (protocol_version, 70); a client that could not
        # offer the version would fail with NO_PROTOCOLS_AVAILABLE before sending anything
        assert isinstance(error, ssl.SSLError) and error.reason == "TLSV1_ALERT_PROTOCOL_VERSION", repr(error)


def fetch(port, path, headers=None, method="GET", body=None):
    """(status, [(name, value), ...] with repeats kept, body) of one HTTPS request via nginx.
    Only the headers given are sent (http.client's own Accept-Encoding: identity is not)."""
    conn = connection(port)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": f"localhost:{port}", **(headers or {})}.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def header(headers, name):
    """Every value of header `name` (case-insensitive)."""
    return [value for key, value in headers if key.lower() == name.lower()]


def login_page(port):
    """The login page, as a first-time visitor gets it: (its session cookie, its bundle URLs)."""
    status, headers, page = fetch(port, "/web/login")
    assert status == 200, page[:300]
    cookies = header(headers, "Set-Cookie")
    # a dynamic page keeps Odoo's cookie (only the static locations strip it)
    assert len(cookies) == 1 and cookies[0].startswith("session_id="), cookies
    bundles = re.findall(r'/web/assets/[^"]+\.min\.(?:js|css)', page.decode())
    assert bundles, page[:500]
    return cookies[0].split(";")[0], bundles


def test_gzip_for_clients_that_ask_and_only_for_them(prod):
    https = prod.ports["NGINX_HTTPS_PORT"]
    _, bundles = login_page(https)
    for url in bundles:    # a JavaScript and a CSS bundle (text, hundreds of KB)
        url = f"{url}?gzip={os.urandom(4).hex()}"
        status, plain_headers, plain = fetch(https, url)
        assert status == 200 and len(plain) > 100_000, (status, len(plain))
        assert header(plain_headers, "Content-Encoding") == [], plain_headers
        status, headers, packed = fetch(https, url, headers={"Accept-Encoding": "gzip"})
        assert status == 200
        assert header(headers, "Content-Encoding") == ["gzip"], headers
        assert "Accept-Encoding" in ", ".join(header(headers, "Vary")), headers
        assert len(packed) < len(plain) / 2 and gzip.decompress(packed) == plain
        # the compressed copy is cached too (nginx does not compress it again per request),
        # beside the plain one: the next gzip client gets a HIT, compressed, the plain one plain
        assert header(headers, "X-Cache-Status") == ["MISS"], headers
        status, headers, again = fetch(https, url, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert (status, header(headers, "X-Cache-Status"), header(headers, "Content-Encoding")) == (
            200, ["HIT"], ["gzip"]), headers
        assert again == packed
        status, headers, plain_again = fetch(https, url)
        assert (header(headers, "X-Cache-Status"), header(headers, "Content-Encoding")) == (["HIT"], []), headers
        assert plain_again == plain


def cache_twice(port, path, cookie=None):
    """Request `path` twice through nginx: both answers' cache status, cookies and bodies."""
    extra = {"Cookie": cookie} if cookie else {}
    seen = []
    for _ in range(2):
        status, headers, body = fetch(port, path, headers=extra)
        assert status == 200, (path, status, body[:200])
        seen.append((header(headers, "X-Cache-Status"), header(headers, "Set-Cookie"), body))
    return seen


def test_static_and_asset_cache_hits_with_and_without_a_session_and_sets_no_cookie(prod):
    https = prod.ports["NGINX_HTTPS_PORT"]
    cookie, bundles = login_page(https)
    bundle = bundles[-1]
    # Odoo itself hands a first-time visitor a session with the bundle (auth="public"): asked
    # inside its container, past nginx
    direct = docker_out("exec", prod.container("odoo"), "python3", "-c",
                        "import http.client as h, sys; c=h.HTTPConnection('127.0.0.1',8069,timeout=30); "
                        "c.request('GET', sys.argv[1]); r=c.getresponse(); r.read(); "
                        "print(r.status, r.getheader('Set-Cookie') or '')", bundle)
    assert direct.startswith("200 session_id="), direct
    # each case on its own URL (the cache key is the URL), so its first request is a MISS
    for path, session in ((bundle, None), (bundle, cookie),
                          ("/web/static/img/favicon.ico", None), ("/web/static/img/favicon.ico", cookie)):
        path = f"{path}?case={os.urandom(4).hex()}"
        (first, first_cookies, first_body), (second, second_cookies, second_body) = cache_twice(https, path, session)
        assert first == ["MISS"] and second == ["HIT"], (path, session, first, second)
        assert first_cookies == [] and second_cookies == [], (path, session, first_cookies, second_cookies)
        assert first_body == second_body and len(first_body) > 0
    # the dynamic page still gives its own cookie, and is never cached
    status, headers, _ = fetch(https, "/web/login")
    assert status == 200 and header(headers, "Set-Cookie") and header(headers, "X-Cache-Status") == []


SECURITY_HEADERS = {   # nginx/snippets/dfr-security-headers.conf, values from nginx.conf's maps
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_security_headers(headers, where):
    for name, value in SECURITY_HEADERS.items():
        assert header(headers, name) == [value], (where, name, header(headers, name))
    policy = header(headers, "Permissions-Policy")
    assert len(policy) == 1 and "accelerometer=()" in policy[0] and "camera=(self)" in policy[0], (where, policy)


def test_security_headers_on_https_answers_once_each(prod):
    https = prod.ports["NGINX_HTTPS_PORT"]
    _, bundles = login_page(https)
    for path in ("/web/health", "/web/login", bundles[0], "/web/static/img/favicon.ico", "/web/no-such-page"):
        status, headers, _ = fetch(https, path)
        assert status in (200, 404), (path, status)
        # once each: where Odoo sets one itself (the login page's X-Frame-Options), nginx adds none
        assert_security_headers(headers, path)
    # and on an answer nginx makes itself (the database manager is closed in production)
    status, headers, _ = fetch(https, "/web/database/manager")
    assert status == 404
    assert_security_headers(headers, "/web/database/manager")


# ---------------------------------------------------------------- keep last: it locks logins out
def test_login_rate_limit_answers_429_after_the_burst(prod):
    """NGINX_LOGIN_RATE (10r/m) with NGINX_LOGIN_BURST (5): POSTs of credentials past the burst
    get 429, on the form and on /web/session/authenticate alike (one zone, per client address);
    loading the form is never refused. Last in the module: it locks this address out of logins
    for a minute."""
    https = prod.ports["NGINX_HTTPS_PORT"]
    burst = int(prod.env.get("NGINX_LOGIN_BURST", "5"))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = []
    for _ in range(burst + 6):
        status, headers, _ = fetch(https, "/web/login", method="POST", body=b"login=admin&password=admin",
                                   headers=form)
        answers.append(status)
        if status == 429:
            last_headers = headers
    accepted = answers.index(429) if 429 in answers else len(answers)
    # the first ones reach Odoo (400: no CSRF token), one plus the burst, then only 429
    assert burst + 1 <= accepted <= burst + 2, answers
    assert set(answers[:accepted]) == {400} and set(answers[accepted:]) == {429}, answers
    assert_security_headers(last_headers, "429")
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1,
                       "params": {"db": "dfr", "login": "admin", "password": "admin"}}).encode()
    status, _, _ = fetch(https, "/web/session/authenticate", method="POST", body=body,
                         headers={"Content-Type": "application/json"})
    assert status == 429
    status, _, _ = fetch(https, "/web/login")
    assert status == 200
