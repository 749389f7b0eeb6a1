"""The Odoo facts of issue 11 (and the image's side of issue 12), written once and run twice:
against the stand-in (tests/e2e/test_odoo_facts.py, every CI run) and against the real Odoo 18.0
(tests/e2e/real_odoo/test_real_odoo.py, when ODOO_SOURCE is set). Both files import these
tests and give the fixture `odoo`: a deployed devel stack of that Odoo.

Fact numbers are those of issue 11: 1 admin/admin and real logins, 2 Set-Cookie on anonymous
assets, 3 the database manager page, 4 neutralize keeps autovacuum, 5 a restored database
without checksums, 6 unknown languages skipped, 7 the workers-mode stop, 8 unknown options.
"""
import json
import re
import time
import xmlrpc.client

import pytest

from dfr_deploy.docker import docker

from ..backup_helpers import invoke
from ..http import request, wait_until
from .odoo_checks import (HeldLogin, container_state, exec_odoo, form_login, login, odoo_logs, one_off_server,
                          rpc, run_odoo, session_authenticate, stop)

FACTS_DB = "dfr_facts"


def secret(stack, name):
    return (stack.env.secrets_dir / name).read_text().strip()


def direct(stack):
    return stack.ports["ODOO_PUBLISHED_PORT"]


def healthy(stack):
    cid = stack.container("odoo")
    return docker()["inspect", "-f", "{{.State.Health.Status}}", cid].run(timeout=60)[1].strip() == "healthy"


@pytest.fixture(scope="module")
def facts_db(odoo):
    """A database made by Odoo itself, as `-i base` makes it (no dfr-odoo-modules, no password
    set), with languages Odoo knows and does not know. Returns the init's logs."""
    code, logs = run_odoo(odoo, "-d", FACTS_DB, "-i", "base,web", "--without-demo=all",
                          "--load-language=fr_FR,sw_KE,dz_BT", "--stop-after-init",
                          environment={"ODOO_AUTO_UPGRADE": "false"})
    assert code == 0, logs[-3000:]
    yield logs
    odoo.exec_db(f'DROP DATABASE IF EXISTS "{FACTS_DB}" WITH (FORCE)', db="postgres")


# --------------------------------------------------------------------- fact 8: unknown options
def test_an_unknown_server_option_fails_as_optparse_does(odoo):
    code, logs = run_odoo(odoo, "--no-such-option", environment={"ODOO_AUTO_UPGRADE": "false"})
    assert code == 2, logs[-2000:]
    assert "odoo-bin server: error: no such option: --no-such-option" in logs


# --------------------------------------------------------------------- fact 6: languages
def test_load_language_skips_codes_odoo_does_not_know_silently(odoo, facts_db):
    active = odoo.exec_db("SELECT string_agg(code, ',' ORDER BY code) FROM res_lang WHERE active", db=FACTS_DB)
    assert active == "fr_FR"
    assert odoo.exec_db("SELECT count(*) FROM res_lang WHERE code IN ('sw_KE', 'dz_BT')", db=FACTS_DB) == "0"
    assert odoo.exec_db("SELECT count(*) FROM res_lang WHERE code = 'sw'", db=FACTS_DB) == "1"  # Odoo has sw
    assert "sw_KE" not in facts_db and "dz_BT" not in facts_db  # no error, no warning: silence
    assert re.search(r"loading translation file \S+/fr\.po for language fr_FR", facts_db)


# --------------------------------------------------------------------- fact 4: neutralize
def test_neutralize_keeps_the_autovacuum_cron_and_runs_installed_modules_rules_only(odoo, facts_db):
    # mail is not installed here: its neutralize.sql (which deletes these keys) must not run
    odoo.exec_db("INSERT INTO ir_config_parameter (key, value) VALUES ('mail.web_push_vapid_private_key', 'k')",
                 db=FACTS_DB)
    assert odoo.exec_db("SELECT count(*) FROM ir_cron WHERE active", db=FACTS_DB) not in ("0", "1")
    code, logs = run_odoo(odoo, "neutralize", "-d", FACTS_DB)
    assert code == 0, logs[-2000:]
    assert "Neutralization finished" in logs
    crons = odoo.exec_db(
        "SELECT json_object_agg(COALESCE(d.module || '.' || d.name, c.id::text), c.active) FROM ir_cron c "
        "LEFT JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id", db=FACTS_DB)
    crons = json.loads(crons)
    assert crons.pop("base.autovacuum_job") is True
    assert crons and not any(crons.values()), crons
    assert odoo.exec_db("SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'",
                        db=FACTS_DB) == "true"
    assert odoo.exec_db("SELECT count(*) FROM ir_config_parameter WHERE key = 'mail.web_push_vapid_private_key'",
                        db=FACTS_DB) == "1"
    assert odoo.exec_db("SELECT string_agg(smtp_host, ',') FROM ir_mail_server WHERE active", db=FACTS_DB) == "invalid"


# --------------------------------------------------------------------- fact 1: admin/admin
def test_init_base_gives_admin_the_password_admin_and_the_tool_replaces_it(odoo, facts_db):
    port, generated = direct(odoo), secret(odoo, "admin_user_password")
    assert odoo.exec_db("SELECT u.id || ' ' || u.login || ' ' || left(u.password, 22) FROM res_users u "
                        "JOIN ir_model_data d ON d.res_id = u.id AND d.model = 'res.users' "
                        "WHERE d.module = 'base' AND d.name = 'user_admin'", db=FACTS_DB) \
        == "2 admin $pbkdf2-sha512$600000$"
    assert login(port, FACTS_DB, "admin", "admin", tls=False) == 2
    code, out, _ = exec_odoo(odoo, "dfr-odoo-admin", "check", FACTS_DB)
    assert code == 3 and "logs in with the password 'admin'" in out, out
    assert exec_odoo(odoo, "dfr-odoo-admin", "set-password", FACTS_DB)[0] == 0
    assert login(port, FACTS_DB, "admin", "admin", tls=False) is False
    assert login(port, FACTS_DB, "admin", generated, tls=False) == 2
    assert exec_odoo(odoo, "dfr-odoo-admin", "check", FACTS_DB)[0] == 0
    # the login itself as password, then an archived admin: Odoo refuses archived users
    odoo.exec_db("UPDATE res_users SET password = 'admin' WHERE id = 2", db=FACTS_DB)  # plain text: Odoo accepts it
    code, out, _ = exec_odoo(odoo, "dfr-odoo-admin", "check", FACTS_DB)
    assert code == 3 and "the password 'admin'" in out
    odoo.exec_db("UPDATE res_users SET active = false WHERE id = 2", db=FACTS_DB)
    assert login(port, FACTS_DB, "admin", "admin", tls=False) is False
    assert exec_odoo(odoo, "dfr-odoo-admin", "check", FACTS_DB)[0] == 0


def test_the_deployed_database_never_answers_admin_admin(odoo):
    """Fact 1 fixed (issue 12): the database the deploy initialised has the generated password,
    through nginx (HTTPS) and on Odoo directly, over JSON-RPC, XML-RPC and the login form."""
    https, port, generated = odoo.ports["NGINX_HTTPS_PORT"], direct(odoo), secret(odoo, "admin_user_password")
    assert login(https, "dfr", "admin", "admin") is False
    assert login(https, "dfr", "admin", generated) == 2
    assert login(port, "dfr", "admin", "admin", tls=False) is False
    for password, expected in ((generated, 2), ("admin", False)):
        status, _, answer = request(port, "/xmlrpc/2/common", method="POST", tls=False,
                                    body=xmlrpc.client.dumps(("dfr", "admin", password), "login"),
                                    headers={"Content-Type": "text/xml"})
        assert status == 200 and xmlrpc.client.loads(answer)[0][0] == expected
    status, location, _ = form_login(https, "admin", generated)
    assert status == 303 and location.endswith("/odoo"), (status, location)
    status, location, page = form_login(https, "admin", "admin")
    assert status == 200 and location is None and b"Wrong login/password" in page
    uid, cookie = session_authenticate(port, "dfr", "admin", generated, tls=False)
    assert uid == 2 and cookie.startswith("session_id=")
    assert session_authenticate(port, "dfr", "admin", "admin", tls=False) == (None, None)
    code, out, _ = exec_odoo(odoo, "dfr-odoo-admin", "check", "dfr")
    assert code == 0, out


# --------------------------------------------------------------------- fact 2: assets and cookies
def test_anonymous_asset_requests_get_a_session_cookie_static_files_none(odoo):
    port = direct(odoo)
    status, headers, page = request(port, "/web/login", tls=False)
    assert status == 200
    bundles = re.findall(rb'/web/assets/[0-9a-f]+/web\.assets_frontend[a-z_]*\.min\.(?:js|css)', page)
    lazy = next(b.decode() for b in bundles if b.endswith(b"_lazy.min.js"))
    status, headers, body = request(port, lazy, tls=False, timeout=120)
    assert status == 200 and len(body) > 1_000_000, (status, len(body))
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    cookie = re.match(r"session_id=([^;]+);", headers["Set-Cookie"]).group(1)
    status, headers, again = request(port, lazy, tls=False, headers={"Cookie": f"session_id={cookie}"})
    assert status == 200 and again == body and "Set-Cookie" not in headers
    status, headers, icon = request(port, "/web/static/img/favicon.ico", tls=False)
    assert status == 200 and icon.startswith(b"\x00\x00\x01\x00") and "Set-Cookie" not in headers
    assert headers["Cache-Control"] == "public, max-age=604800"
    assert request(port, "/web/static/no/such/file.js", tls=False)[0] == 404


# --------------------------------------------------------------------- fact 3: database manager
def test_database_manager_answers_200_and_refuses_operations_when_disabled(odoo):
    master = secret(odoo, "odoo_admin_passwd")
    with one_off_server(odoo, {"LIST_DB": "False"}) as (cid, port):
        for path in ("/web/database/manager", "/web/database/selector"):
            status, _, page = request(port, path, tls=False)
            assert status == 200 and b"The database manager has been disabled by the administrator" in page
        status, _, page = request(port, "/web/database/drop", method="POST", tls=False,
                                  body=f"master_pwd={master}&name=dfr",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and b"Access Denied" in page
        _, error, _ = rpc(port, "db", "list", [], tls=False)
        assert error["data"]["name"] == "odoo.exceptions.AccessDenied"
        logs = docker()["logs", cid].run(timeout=60)
        # the hashed master password in odoo.conf matched: only then does Odoo say why it refuses
        assert "Database management functions blocked" in logs[1] + logs[2]
    assert odoo.exec_db("SELECT 1") == "1"  # dfr is still there


# --------------------------------------------------------------------- issue 12: secrets as files
def test_no_secret_in_the_odoo_containers_environment_and_exec_works_as_root(odoo):
    values = [secret(odoo, name) for name in ("db_password", "odoo_admin_passwd", "admin_user_password")]
    cid = odoo.container("odoo")
    assert not any(v in docker()["inspect", cid].run(timeout=60)[1] for v in values)
    pids = [p for p in docker()["exec", cid, "ls", "/proc"].run(timeout=60)[1].split() if p.isdigit()]
    read = 0
    for pid in pids:
        for user in ("0", "1000"):
            code, environ, _ = docker()["exec", "-u", user, cid, "cat", f"/proc/{pid}/environ"].run(
                retcode=None, timeout=60)
            if code == 0:
                assert not any(v in environ for v in values), f"a secret in /proc/{pid}/environ"
                read += 1
                break
    assert read >= 2  # docker-init and Odoo at least
    conf = docker()["exec", "-u", "1000", cid, "stat", "-c", "%a %u", "/run/odoo/odoo.conf"].run(timeout=60)[1]
    assert conf.split() == ["600", "1000"]
    line = docker()["exec", "-u", "1000", cid, "grep", "^admin_passwd", "/run/odoo/odoo.conf"].run(timeout=60)[1]
    assert line.startswith("admin_passwd = $pbkdf2-sha512$600000$") and values[1] not in line
    # `docker exec` is root by default: the image's tools run as uid 1000 all the same
    assert docker()["exec", cid, "dfr-odoo-modules", "changed", "dfr"].run(timeout=300)[0] == 0
    assert docker()["exec", cid, "dfr-healthcheck"].run(timeout=60)[0] == 0
    image = odoo.env.image("odoo")
    release = docker()["run", "--rm", "--network", "none", "--entrypoint", "dfr-odoo-release", image].run(timeout=120)[1]
    assert json.loads(release)["major_version"] == "18.0"


# --------------------------------------------------------------------- ODOO_INIT_MODULES grows
def test_a_module_added_to_init_modules_is_installed_on_the_next_start(odoo):
    odoo.env.overrides["ODOO_INIT_MODULES"] = "base,web,contacts"
    odoo.compose("up", "--detach", "--no-deps", "odoo", timeout=600)
    wait_until(lambda: healthy(odoo), 600, interval=2, what="Odoo healthy after installing contacts")
    assert odoo.exec_db("SELECT state FROM ir_module_module WHERE name = 'contacts'") == "installed"
    assert "installing modules not yet installed: contacts" in odoo_logs(odoo, since="15m")


# --------------------------------------------------------------------- fact 5: restored database
def test_a_restored_odoo_zip_without_checksums_updates_only_modules_whose_version_differs(odoo, tmp_path):
    """A database from elsewhere (Odoo's own zip: no dfr.module_checksums) whose contacts module
    was installed at an older version: only contacts is updated, then Odoo is healthy."""
    odoo.exec_db("DELETE FROM ir_config_parameter WHERE key = 'dfr.module_checksums';"
                 "UPDATE ir_module_module SET latest_version = '18.0.0.9' WHERE name = 'contacts'")
    code, logs = run_odoo(odoo, "db", "-c", "/run/odoo/odoo.conf", "dump", "dfr", "/var/lib/odoo/facts.zip")
    assert code == 0, logs[-2000:]
    cid = odoo.compose("run", "--detach", "--no-deps", "--entrypoint", "sleep", "odoo", "120")[1].strip().splitlines()[-1]
    try:
        docker()["cp", f"{cid}:/var/lib/odoo/facts.zip", str(tmp_path / "facts.zip")].run(timeout=120)
    finally:
        docker()["rm", "-f", cid].run(retcode=None, timeout=60)
    installed = int(odoo.exec_db("SELECT count(*) FROM ir_module_module WHERE state = 'installed'"))
    started = time.monotonic()
    result = invoke(odoo, "restore", f"--file={tmp_path / 'facts.zip'}", "--drop-previous")
    assert result.returncode == 0, result.stderr[-3000:]
    print(f"\n[measured] restore of the Odoo zip, {installed} modules, until Odoo is healthy: "
          f"{time.monotonic() - started:.0f} s")
    logs = odoo_logs(odoo, since="10m")
    decision = [line for line in logs.splitlines() if "dfr-odoo-modules: database dfr: updating" in line]
    assert decision, logs[-3000:]
    assert decision[-1].endswith(f"updating 1 of {installed} installed modules (no recorded checksums (restored "
                                 "database): manifest versions against installed versions): contacts (version "
                                 "18.0.0.9 -> 18.0.1.0)"), decision[-1]
    update_run = logs[logs.rindex("running: odoo -d dfr -u contacts"):]
    loaded = re.findall(r"Loading module (\w+) \(", update_run.split("dfr-odoo-modules: done")[0])
    assert loaded == ["contacts"], loaded
    assert odoo.exec_db("SELECT latest_version FROM ir_module_module WHERE name = 'contacts'") == "18.0.1.0"
    assert odoo.exec_db("SELECT count(*) FROM ir_config_parameter WHERE key = 'dfr.module_checksums'") == "1"
    assert healthy(odoo)


# --------------------------------------------------------------------- fact 7: workers-mode stop
def test_workers_mode_stop_is_quick_when_idle(odoo):
    with one_off_server(odoo, {"WORKERS": "2"}) as (cid, _port):
        took, code = stop(cid, grace=60)
    print(f"\n[measured] workers mode, idle: stop took {took:.1f} s, exit {code}")
    assert code == 0 and took < 15, (took, code)


def test_workers_mode_stop_lets_a_running_request_finish(odoo):
    with one_off_server(odoo, {"WORKERS": "2"}) as (cid, port):
        with HeldLogin(odoo, port, "dfr", seconds=12) as held:
            took, code = stop(cid, grace=90)
        outcome, answer, elapsed = held.result
    print(f"\n[measured] workers mode, a request running ~11 s more: stop took {took:.1f} s, exit {code}, "
          f"the request: {outcome} {answer!r} after {elapsed:.1f} s")
    assert code == 0
    assert outcome == "answer" and answer is False and elapsed >= 10, held.result
    assert 8 <= took < 40, took


def test_workers_mode_stop_waits_at_most_limit_time_real(odoo):
    with one_off_server(odoo, {"WORKERS": "2", "LIMIT_TIME_REAL": "6"}) as (cid, port):
        with HeldLogin(odoo, port, "dfr", seconds=60) as held:
            took, code = stop(cid, grace=90)
    print(f"\n[measured] workers mode, limit_time_real 6 s, a request held 60 s: stop took {took:.1f} s, exit {code}")
    assert code == 0 and took < 30, took
    assert held.result[0] == "failed", held.result  # cut: its transaction is rolled back


def test_a_stop_past_the_grace_period_is_a_kill(odoo):
    """What compose does after stop_grace_period: the trade-off the server layer's value sets."""
    with one_off_server(odoo, {"WORKERS": "2"}) as (cid, port):
        with HeldLogin(odoo, port, "dfr", seconds=60) as held:
            took, code = stop(cid, grace=5)
        assert not container_state(cid)[0]
    print(f"\n[measured] workers mode, docker stop --time 5 during a 60 s request: took {took:.1f} s, exit {code}")
    assert code == 137 and took < 20, (took, code)
    assert held.result[0] == "failed", held.result
