"""Issue 15: real certificates, renewed by themselves. A prod-like stack with acme.yaml gets its
certificate from a real ACME server (Debian's pebble, tests/fixtures/pebble) that fetches the
HTTP-01 challenge from nginx itself, and by DNS-01 through RFC 2136 updates to a real bind9 with a
TSIG key; renewals under load drop no request; a certificate authority that is down leaves the
served certificate alone and is reported; a TLS scan sees Mozilla "intermediate" only; production
refuses to deploy with a self-signed certificate it did not ask for.
"""
import base64
import json
import os
import re
import secrets as random_source
import time

import pytest

from dfr_deploy import environments, images, secrets
from dfr_deploy.commands import stack
from dfr_deploy.docker import compose, docker
from dfr_deploy.errors import DfrError
from dfr_deploy.stack import tls
from .conftest import ROOT, TEST_REGISTRY, docker_out
from .http import request, wait_until
from .tls_testbed import (DOMAIN, EXTRA, LAYERS, SHORT_VALIDITY, TESTBED, TSIG_KEY, ZONE, Bed, Load,
                          build_testbed, digest)

# Mozilla "intermediate" (v5.7): TLS 1.2 suites (OpenSSL names) and TLS 1.3 suites.
INTERMEDIATE_12 = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                   "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
                   "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305"}
INTERMEDIATE_13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


@pytest.fixture(scope="module")
def bed(make_stack, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    work = tmp_path_factory.mktemp("tls")
    (work / "metrics").mkdir(mode=0o755)
    (work / "testbed-certs").mkdir()
    build_testbed()
    # pebble's own HTTPS certificate, from a throwaway test CA: ACME_CA_BUNDLE makes lego trust it.
    docker_out("run", "--rm", "-v", f"{work / 'testbed-certs'}:/out", TESTBED, "certs", "/out", "pebble", "pebble-dns")
    s = make_stack("prod", PROJECT_NAME=f"dfrh4{random_source.token_hex(3)}", MONITORING="false",
                   DOMAIN=DOMAIN, TLS_MODE="acme",
                   TLS_EXTRA_NAMES=EXTRA, ACME_DIRECTORY_URL="https://pebble:14000/dir", ACME_EMAIL=f"ops@{ZONE}",
                   ACME_CA_BUNDLE=str(work / "testbed-certs" / "ca.pem"), ACME_RETRY_SECONDS="3",
                   ACME_CHECK_INTERVAL="3600", TLS_WATCH_INTERVAL="1", METRICS_DIR=str(work / "metrics"),
                   DFR_TESTBED_IMAGE=TESTBED, DFR_TESTBED_CERTS=str(work / "testbed-certs"), DFR_TESTBED_ZONE=ZONE,
                   DFR_TESTBED_TSIG_KEY=TSIG_KEY, DFR_TESTBED_SHORT_VALIDITY=str(SHORT_VALIDITY))
    # acme.yaml unless the environment adds it itself for TLS_MODE=acme; the test bed always.
    present = {str(p.relative_to(ROOT)) for p in s.env.compose_files}
    patch.setitem(environments.LAYERS, "prod", environments.LAYERS["prod"] + tuple(l for l in LAYERS if l not in present))
    try:
        secret = s.env.secrets_dir / "acme_tsig_secret"
        secret.write_text(base64.b64encode(os.urandom(32)).decode())
        secret.chmod(0o600)
        images.build(s.env, ("acme",))
        assert tls.check_settings(s.env) == "acme"
        started = time.monotonic()
        s.deploy()
        bed = Bed(s, work)
        bed.deployed_in = time.monotonic() - started
        yield bed
    finally:
        s.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", retcode=None)
        patch.undo()


def test_prod_refuses_a_self_signed_certificate_it_did_not_ask_for(test_images, tmp_path, monkeypatch):
    """Test 5: no TLS_MODE, or PKI files that are self-signed: refused before anything starts,
    naming the setting to change."""
    monkeypatch.delenv("TLS_MODE", raising=False)
    project = f"dfrh4{random_source.token_hex(3)}"
    base = {"PROJECT_NAME": project, "IMAGE_REGISTRY": TEST_REGISTRY, "IMAGE_TAG": "prod", "MONITORING": "false",
            "DFR_SECRETS_DIR": str(tmp_path / "secrets"), "DOMAIN": DOMAIN,
            "METRICS_DIR": str(tmp_path / "metrics"), "BACKUP_DIR": str(tmp_path / "backups")}
    unset = environments.resolve("prod", overrides={**base, "TLS_MODE": ""})
    secrets.generate(unset)
    files = tmp_path / "pki"
    files.mkdir()
    docker_out("run", "--rm", "-v", f"{files}:/out", "--entrypoint", "openssl", f"{TEST_REGISTRY}/nginx:prod", "req",
               "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
               "-subj", f"/CN={DOMAIN}", "-addext", f"subjectAltName=DNS:{DOMAIN}", "-keyout", "/out/privkey.pem",
               "-out", "/out/fullchain.pem")
    self_signed_files = environments.resolve("prod", overrides={**base, "TLS_MODE": "files", "TLS_FILES_DIR": str(files)})
    try:
        with pytest.raises(DfrError) as refused:
            stack.deploy(unset, timeout=60)   # bounded even if the refusal is missing
        message = str(refused.value)
        assert "TLS_MODE" in message and "config/prod.env" in message and "TLS_MODE=self-signed" in message
        assert "\n" not in message
        # PKI files that turn out to be self-signed are refused too (the nginx image reads them).
        with pytest.raises(DfrError) as refused:
            stack.deploy(self_signed_files, timeout=60)
        assert "self-signed" in str(refused.value) and "TLS_MODE=self-signed" in str(refused.value)
        assert not docker_out("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}-prod").strip()
        # Asked for by name, it passes the check.
        assert tls.check_settings(environments.resolve("prod", overrides={**base, "TLS_MODE": "self-signed"})) \
            == "self-signed"
    finally:   # a deploy that was not refused must not leave a stack behind
        for env in (unset, self_signed_files):
            compose(env)["down", "--volumes", "--remove-orphans", "--timeout", "5"].run(retcode=None, timeout=300)


def test_http01_certificate_issued_by_pebble_is_served(bed):
    """Test 1: pebble fetched the challenge from nginx on port 80; nginx serves pebble's
    certificate for DOMAIN and the extra name, and openssl s_client verifies the chain."""
    cert = wait_until(lambda: (c := bed.served()) and not c["self_signed"] and c, 240, interval=1,
                      what="the certificate from pebble served by nginx")
    assert cert["issuer"].startswith("CN=Pebble Intermediate CA"), cert
    assert sorted(cert["names"]) == sorted([DOMAIN, EXTRA])
    issued = re.search(r"new certificate installed in ([0-9.]+) s", bed.acme_log())
    print(f"\n[tls] deploy {bed.deployed_in:.0f} s; HTTP-01 certificate for 2 names issued in {issued.group(1)} s")
    # The chain, as a client sees it, verifies up to pebble's root.
    root = bed.work / "pebble-root.pem"
    root.write_text(bed.pebble_root("pebble"))
    nginx_ip = docker_out("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                          bed.container("nginx")).split()[0]
    out = docker_out("run", "--rm", "--network", f"{bed.s.env.project_name}_frontend", "-v", f"{root}:/root.pem:ro",
                     "--entrypoint", "openssl", TESTBED, "s_client", "-connect", f"{nginx_ip}:443",
                     "-servername", DOMAIN, "-CAfile", "/root.pem", "-verify_return_error", "-showcerts", timeout=60)
    assert "Verify return code: 0 (ok)" in out and out.count("BEGIN CERTIFICATE") == 2
    # Really fetched from nginx (no PEBBLE_VA_ALWAYSVALID): pebble's validator asked nginx.
    environment = docker_out("inspect", "-f", "{{json .Config.Env}}", bed.container("pebble"))
    assert "ALWAYSVALID" not in environment
    fetched = set(re.findall(r'"GET /\.well-known/acme-challenge/(\S+) HTTP/1\.1" 200 .*Pebble-VA',
                             bed.logs("nginx")))
    assert len(fetched) >= 2      # one token per name
    # Served, not redirected, under strict hosts, for both names; any other name gets nothing.
    for name in (DOMAIN, EXTRA):
        status, _, _ = request(bed.s.ports["NGINX_HTTP_PORT"], "/.well-known/acme-challenge/none", tls=False,
                               headers={"Host": name})
        assert status == 404, name
    with pytest.raises(Exception):
        request(bed.s.ports["NGINX_HTTP_PORT"], "/.well-known/acme-challenge/none", tls=False,
                headers={"Host": "other.example.org"})
    # Account key and certificates 0600, folders 0700, on the acme service's volumes.
    modes = bed.s.compose("exec", "-T", "acme", "find", "/var/lib/dfr-acme/state/lego", "/var/lib/dfr-acme/certs/releases",
                          "-printf", "%m %y %p\n")[1].splitlines()
    assert modes and all(line.startswith(("600 f", "700 d")) for line in modes), modes
    assert any(line.endswith(".key") and "/accounts/" in line for line in modes)
    # The metrics the monitoring reads.
    assert bed.metric("dfr_tls_cert_not_after_timestamp_seconds", name=DOMAIN) == cert["not_after"]
    assert bed.metric("dfr_job_last_result", job="tls-renew") == 1
    assert 'environment="prod"' in (bed.metrics / "dfr_tls.prom").read_text()
    report = tls.format_report(tls.report(bed.s.env))
    assert "TLS_MODE=acme" in report and "Pebble Intermediate CA" in report and ": ok" in report
    print(f"[tls] `invoke tls`:\n{report}")


def test_tls_scan_intermediate_only_with_hsts(bed):
    """Test 6: testssl.sh (Debian) on the served endpoint: TLS 1.2 and 1.3 only, only Mozilla
    intermediate suites, HSTS."""
    nginx_ip = docker_out("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                          bed.container("nginx")).split()
    out_dir = bed.work / "scan"
    out_dir.mkdir()
    started = time.monotonic()
    docker()["run", "--rm", "--network", f"{bed.s.env.project_name}_frontend", "--add-host", f"{DOMAIN}:{nginx_ip[0]}",
             "-v", f"{out_dir}:/out", "--entrypoint", "testssl", TESTBED, "--quiet", "--color", "0",
             "--warnings", "off", "--jsonfile", "/out/scan.json", "--protocols", "--each-cipher", "--headers",
             f"https://{DOMAIN}/"].run(retcode=None, timeout=600)
    findings = {item["id"]: item["finding"] for item in json.loads((out_dir / "scan.json").read_text())}
    print(f"\n[tls] testssl.sh scan in {time.monotonic() - started:.0f} s")
    offered = {p for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")
               if findings.get(p, "").startswith("offered")}
    assert offered == {"TLS1_2", "TLS1_3"}, {p: findings.get(p) for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")}
    suites = [f.split() for key, f in findings.items() if key.startswith("cipher_x")]
    names = {parts[1] for parts in suites if len(parts) > 1}   # "xc02b  ECDHE-ECDSA-AES128-GCM-SHA256 ..."
    tls12 = {n for n in names if not n.startswith("TLS_")}
    tls13 = {n for n in names if n.startswith("TLS_")}
    assert tls12 and tls12 <= INTERMEDIATE_12, tls12
    assert tls13 and tls13 <= INTERMEDIATE_13, tls13
    assert "31536000" in findings.get("HSTS_time", "") and findings.get("HSTS_subdomains") == "includes subdomains"


def test_renewal_under_load_drops_no_request(bed):
    """Test 3: a forced renewal while HTTPS requests keep coming: the new certificate is served,
    every request answered 200, none failed."""
    wait_until(lambda: not bed.served()["self_signed"], 240, what="the first certificate")
    old = digest(bed)
    with Load(bed) as load:
        wait_until(lambda: len(load.seen()) >= 50, 60, interval=0.2, what="the load running")
        started = time.monotonic()
        code, out, err = bed.exec_acme("renew", "--force")
        assert code == 0, out + err
        wait_until(lambda: load.seen()[-20:].count(old) == 0 and len(set(load.seen())) >= 2, 60, interval=0.2,
                   what="the new certificate served under load")
        switched = time.monotonic() - started
        time.sleep(3)   # more requests on the new certificate
    digests = load.seen()
    new = digests[-1]
    assert new != old and digests.count(old) >= 50 and digests.count(new) >= 20
    assert load.failures == [], load.failures[:5]
    assert len(load.done) <= load.limit and load.seconds < 150
    print(f"\n[tls] renewal under load: {len(load.done)} HTTPS requests in {load.seconds:.0f} s, "
          f"{len(load.failures)} failed; new certificate served {switched:.1f} s after `dfr-acme renew --force`")
    assert "dfr-tls-watch: certificate changed: nginx reloaded" in bed.logs("nginx")


def test_ca_down_keeps_the_certificate_and_reports_it(bed):
    """Test 4: pebble stopped, a renewal fails: the served certificate stays, the failure is the
    command's exit status, one log line and the metrics; the service retries by itself and gets a
    certificate once pebble is back (a new pebble: the account is registered again)."""
    served = bed.served()
    expiry = bed.metric("dfr_tls_cert_not_after_timestamp_seconds", name=DOMAIN)
    success = bed.metric("dfr_job_last_success_timestamp_seconds", job="tls-renew")
    bed.s.compose("stop", "--timeout", "2", "pebble")
    try:
        code, out, err = bed.exec_acme("renew", "--force")
        assert code == 1
        failed = [line for line in (out + err).splitlines() if "renewal FAILED" in line]
        assert len(failed) == 1 and "pebble" in failed[0] and "the current certificate stays" in failed[0]
        assert bed.served()["serial"] == served["serial"] and bed.der()[1] == 200
        assert bed.metric("dfr_job_last_result", job="tls-renew") == 0
        assert bed.metric("dfr_tls_cert_not_after_timestamp_seconds", name=DOMAIN) == expiry
        assert bed.metric("dfr_job_last_success_timestamp_seconds", job="tls-renew") == success
        report = tls.format_report(tls.report(bed.s.env))
        assert "FAILED" in report and "next try" in report, report
        # the service itself tries again (ACME_RETRY_SECONDS=3, doubled): still failing while down
        wait_until(lambda: bed.acme_log().count("renewal FAILED") >= 2, 60, what="the service retrying by itself")
        assert bed.served()["serial"] == served["serial"]
    finally:
        bed.s.compose("start", "pebble")
    back = wait_until(lambda: (c := bed.served()) and c["serial"] != served["serial"] and c, 180, interval=1,
                      what="a new certificate once pebble is back")
    assert back["issuer"].startswith("CN=Pebble Intermediate CA") and back["issuer"] != served["issuer"]
    wait_until(lambda: bed.metric("dfr_job_last_result", job="tls-renew") == 1, 30, what="the metrics saying ok")
    assert "registering a new one" in bed.acme_log()


def test_dns01_through_rfc2136_and_unattended_renewal(bed):
    """Test 2: DNS-01 with RFC 2136 updates (TSIG) to bind9, validated by another pebble that
    asks that DNS server; its short-lived certificate is then renewed by the service unattended."""
    before = bed.served()
    env = bed.s.env
    env.overrides.update(ACME_CHALLENGE="dns-01", ACME_DIRECTORY_URL="https://pebble-dns:14000/dir",
                         ACME_DNS_SERVER="dns:53", ACME_DNS_RESOLVERS="dns:53", ACME_TSIG_KEY_NAME=TSIG_KEY,
                         TLS_EXTRA_NAMES="")   # one name: lego waits 60 s between two names of one zone
    assert tls.check_settings(env) == "acme"
    started = time.monotonic()
    bed.s.compose("up", "--detach", "--no-deps", "acme", timeout=300)
    first = wait_until(lambda: (c := bed.served()) and c["serial"] != before["serial"] and c, 240, interval=1,
                       what="the DNS-01 certificate served")
    issued_in = time.monotonic() - started
    assert first["names"] == [DOMAIN] and first["issuer"] != before["issuer"]
    assert first["issuer"].startswith("CN=Pebble Intermediate CA")
    assert "(dns-01)" in bed.acme_log()
    assert first["not_after"] - first["not_before"] <= SHORT_VALIDITY + 1
    # bind took updates signed with the TSIG key (the secret only in the two containers' files).
    assert f'signer "{TSIG_KEY}" approved' in bed.logs("dns")
    # Nobody asks again: renewed a third of its lifetime before expiry, then served.
    renewed = wait_until(lambda: (c := bed.served()) and c["serial"] != first["serial"] and c,
                         SHORT_VALIDITY + 60, interval=1, what="the unattended renewal")
    assert renewed["not_after"] > first["not_after"]
    assert re.search(r"it expires in 0\.0 days", bed.acme_log())
    print(f"\n[tls] DNS-01 certificate served {issued_in:.0f} s after switching; renewed unattended "
          f"{renewed['not_before'] - first['not_before']:.0f} s after the first one")
