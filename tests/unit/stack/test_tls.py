"""dfr_deploy.stack.tls without docker: which TLS setups deploy, in one line naming the setting
when not, and how `invoke tls` reads openssl's answer and shows it."""
import subprocess
import time

import pytest

from dfr_deploy import environments
from dfr_deploy.errors import DfrError
from dfr_deploy.stack import tls


@pytest.fixture
def make_env(tmp_path, monkeypatch):
    for key in ("TLS_MODE", "DOMAIN", "TLS_EXTRA_NAMES", "ACME_EMAIL", "ADMIN_EMAIL", "ACME_CHALLENGE",
                "ACME_DNS_SERVER", "ACME_TSIG_KEY_NAME", "ACME_CA_BUNDLE", "TLS_FILES_DIR", "DFR_SECRETS_DIR"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "config").mkdir()
    secrets = tmp_path / "secrets"
    secrets.mkdir()

    def make(name="prod", tsig="", **settings):
        (tmp_path / "config" / f"{name}.env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        (secrets / "acme_tsig_secret").write_text(tsig)
        return environments.Environment(name, tmp_path, {"DFR_SECRETS_DIR": str(secrets)})
    return make


ACME = {"TLS_MODE": "acme", "DOMAIN": "dfr.example.org", "ADMIN_EMAIL": "ops@example.org"}


def refused(env):
    with pytest.raises(DfrError) as error:
        tls.check_settings(env)
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_servers_without_tls_mode_are_refused_naming_the_setting(make_env, name):
    message = refused(make_env(name, DOMAIN="dfr.example.org"))
    assert f"config/{name}.env has no TLS_MODE" in message
    assert all(choice in message for choice in ("TLS_MODE=acme", "TLS_MODE=files", "TLS_MODE=self-signed"))


def test_self_signed_when_asked_by_name_and_always_in_devel(make_env):
    assert tls.check_settings(make_env("prod", TLS_MODE="self-signed")) == "self-signed"
    assert tls.check_settings(make_env("devel")) == "self-signed"
    assert "not valid" in refused(make_env("prod", TLS_MODE="letsencrypt"))


def test_acme_settings(make_env, tmp_path):
    assert tls.check_settings(make_env(**ACME)) == "acme"
    assert "'localhost'" in refused(make_env(**{**ACME, "DOMAIN": "localhost"}))
    assert "'10.1.2.3'" in refused(make_env(**ACME, TLS_EXTRA_NAMES="www.dfr.example.org,10.1.2.3"))
    assert "ACME_EMAIL" in refused(make_env(TLS_MODE="acme", DOMAIN="dfr.example.org"))
    assert "ACME_CHALLENGE" in refused(make_env(**ACME, ACME_CHALLENGE="tls-alpn-01"))
    assert "ACME_DNS_SERVER" in refused(make_env(**ACME, ACME_CHALLENGE="dns-01"))
    dns = {**ACME, "ACME_CHALLENGE": "dns-01", "ACME_DNS_SERVER": "ns1.example.org", "ACME_TSIG_KEY_NAME": "dfr"}
    assert "acme_tsig_secret is empty" in refused(make_env(**dns))
    assert tls.check_settings(make_env(tsig="c2VjcmV0", **dns)) == "acme"
    (tmp_path / "not-a-ca.pem").write_text("hello")
    assert "ACME_CA_BUNDLE" in refused(make_env(**ACME, ACME_CA_BUNDLE=str(tmp_path / "not-a-ca.pem")))
    env = make_env(**ACME)
    (env.secrets_dir / "acme_tsig_secret").unlink()
    assert "invoke secrets --env=prod" in refused(env)


def test_files_need_both_files(make_env, tmp_path):
    assert "TLS_FILES_DIR" in refused(make_env(TLS_MODE="files"))
    folder = tmp_path / "pki"
    folder.mkdir()
    (folder / "fullchain.pem").write_text("x")
    assert "privkey.pem is missing" in refused(make_env(TLS_MODE="files", TLS_FILES_DIR=str(folder)))
    (folder / "privkey.pem").write_text("x")
    assert tls.check_settings(make_env(TLS_MODE="files", TLS_FILES_DIR=str(folder))) == "files"


def openssl_output(tmp_path, *extra):
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "10", "-subj", "/CN=dfr.example.org", "-keyout", str(key), "-out", str(cert), *extra],
                   check=True, capture_output=True)
    return subprocess.run(["openssl", "x509", "-in", str(cert), *tls.X509[2:]], check=True, capture_output=True,
                          text=True).stdout


def test_reads_what_openssl_says(tmp_path):
    cert = tls.parse(openssl_output(tmp_path, "-addext", "subjectAltName=DNS:dfr.example.org,DNS:www.dfr.example.org"))
    assert cert["names"] == ["dfr.example.org", "www.dfr.example.org"] and cert["self_signed"]
    assert cert["issuer"] == "CN=dfr.example.org" and 9.9 < (cert["not_after"] - time.time()) / 86400 <= 10
    assert tls.parse(openssl_output(tmp_path))["names"] == ["dfr.example.org"]   # no SAN: the CN
    assert tls.parse("nothing useful") is None


def test_report_shows_served_certificate_and_last_renewal():
    now = time.time()
    served = {"names": ["dfr.example.org"], "issuer": "CN=R11,O=Let's Encrypt,C=US", "subject": "CN=dfr.example.org",
              "serial": "0A", "not_before": now - 86400, "not_after": now + 40 * 86400, "self_signed": False,
              "days_left": 40.0}
    report = {"environment": "prod", "project": "dfr-prod", "mode": "acme", "domain": "dfr.example.org",
              "served": served, "acme": {"last_run": now, "last_result": 0, "last_error": "CA down",
                                         "last_success": now - 86400, "failures": 2, "next_attempt": now + 1200}}
    text = tls.format_report(report)
    assert "TLS_MODE=acme" in text and "Let's Encrypt" in text and "40.0 days left" in text
    assert "FAILED: CA down" in text and "next try" in text and "failure 2" in text
    text = tls.format_report({**report, "mode": "self-signed", "acme": None,
                              "served": {**served, "self_signed": True}})
    assert "SELF-SIGNED" in text and "renewal" not in text
    assert "no certificate served" in tls.format_report({**report, "served": None, "acme": None})
    assert "none yet" in tls.format_report({**report, "acme": None})
