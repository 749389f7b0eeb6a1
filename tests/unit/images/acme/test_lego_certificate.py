"""lego's arguments and environment (the TSIG secret only as a file path), its errors in one line,
and what the service reads from real certificates."""
from dfr_acme import certificate, lego, settings
from .conftest import make_cert

LEGO_FAILURE = """2026/11/29 20:34:03 No key found for account ops@example.org. Generating a P256 key.
!!!! HEADS UP !!!!
2026/11/29 20:34:03 [INFO] [dfr.example.org] acme: Obtaining bundled SAN certificate
2026/11/29 20:34:17 Could not obtain certificates:
\terror: one or more domains had a problem:
[dfr.example.org] acme: error: 403 :: urn:ietf:params:acme:error:unauthorized :: Invalid response from http://dfr.example.org/.well-known/acme-challenge/x: 404
"""


def test_http01_arguments(environ):
    args = lego.command(settings.load(environ))
    assert args[0] == "lego" and args[-1] == "run"
    assert args[args.index("--http.webroot") + 1] == environ["DFR_ACME_WEBROOT"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--domains"] == ["dfr.example.org", "www.dfr.example.org"]
    assert "--dns" not in args and args[args.index("--server") + 1] == settings.LETS_ENCRYPT


def test_dns01_secret_is_a_file_path_never_a_value(environ, tmp_path):
    secret = "bXkgdHNpZyBzZWNyZXQgdmFsdWU="
    (tmp_path / "tsig").write_text(secret)
    environ.update(ACME_CHALLENGE="dns-01", ACME_DNS_SERVER="ns1.example.org", ACME_TSIG_KEY_NAME="dfr-acme",
                   ACME_DNS_RESOLVERS="ns1.example.org:53")
    s = settings.load(environ)
    args, env = lego.command(s), lego.environment(s)
    assert args[args.index("--dns") + 1] == "rfc2136" and args[args.index("--dns.resolvers") + 1] == "ns1.example.org:53"
    assert env["RFC2136_NAMESERVER"] == "ns1.example.org" and env["RFC2136_TSIG_KEY"] == "dfr-acme."
    assert env["RFC2136_TSIG_ALGORITHM"] == "hmac-sha256." and env["RFC2136_TSIG_SECRET_FILE"] == str(tmp_path / "tsig")
    assert not any(secret in value for value in [*args, *env.values()])


def test_extra_ca_bundle_only_with_a_certificate(environ, tmp_path):
    s = settings.load(environ)
    (tmp_path / "extra-ca.pem").write_text("# no extra certificate authority\n")
    assert "LEGO_CA_CERTIFICATES" not in lego.environment(s)
    ca, _ = make_cert(tmp_path, ["ca.example.org"], name="ca")
    (tmp_path / "extra-ca.pem").write_text(ca.read_text())
    bundle = lego.environment(s)["LEGO_CA_CERTIFICATES"]
    assert ca.read_text().strip() in open(bundle).read()


def test_failure_in_one_line():
    line = lego.summary(LEGO_FAILURE)
    assert "\n" not in line and line.startswith("Could not obtain certificates")
    assert "unauthorized" in line and "HEADS UP" not in line and "[INFO]" not in line
    assert lego.summary("") == "lego failed without saying why"
    assert len(lego.summary("error " + "x" * 2000)) == 400


def test_forgotten_account_is_moved_aside(environ, tmp_path):
    environ["ACME_DIRECTORY_URL"] = "https://ca.example.org:14000/dir"
    s = settings.load(environ)
    account = lego.storage(s) / "accounts" / "ca.example.org_14000"
    account.mkdir(parents=True)
    aside = lego.forget_account(s)
    assert not account.exists() and aside.exists() and aside.name.startswith("ca.example.org_14000.unknown-")
    assert lego.account_unknown("urn:ietf:params:acme:error:accountDoesNotExist") and not lego.account_unknown("x")


def test_certificate_facts_and_key_pairing(tmp_path):
    ca, ca_key = make_cert(tmp_path, ["ca.example.org"], name="ca", days=365)
    leaf, key = make_cert(tmp_path, ["dfr.example.org", "www.dfr.example.org"], issuer=(ca, ca_key), days=90,
                          ocsp="http://ocsp.example.org/")
    cert = certificate.read(leaf)
    assert cert.names == ("dfr.example.org", "www.dfr.example.org") and cert.issuer == "CN=ca.example.org"
    assert not cert.self_signed and cert.ocsp == "http://ocsp.example.org/"
    assert 89.9 < cert.lifetime / 86400 < 90.1 and 89 < cert.days_left() <= 90
    assert certificate.key_matches(leaf, key) and not certificate.key_matches(leaf, ca_key)
    assert certificate.read(ca).self_signed
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert certificate.read(tmp_path / "junk.pem") is None and certificate.read(tmp_path / "none.pem") is None
