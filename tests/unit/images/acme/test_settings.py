"""The acme service's settings: defaults, and one line naming the setting for each mistake."""
import pytest

from dfr_acme import settings


def test_defaults_are_lets_encrypt_http01_twice_a_day(environ):
    s = settings.load(environ)
    assert s.mode == "acme" and s.directory == settings.LETS_ENCRYPT and s.challenge == "http-01"
    assert s.names == ("dfr.example.org", "www.dfr.example.org") and s.domain == "dfr.example.org"
    assert (s.renew_days, s.check_interval, s.retry_seconds, s.key_type) == (30, 43200, 600, "ec256")
    assert s.environment == "prod" and s.project == "dfr-prod"


def test_extra_names_comma_or_space_separated_without_duplicates(environ):
    environ["TLS_EXTRA_NAMES"] = "www.dfr.example.org, api.dfr.example.org  DFR.example.org"
    assert settings.load(environ).names == ("dfr.example.org", "www.dfr.example.org", "api.dfr.example.org")


@pytest.mark.parametrize("changes,named", [
    ({"DOMAIN": "localhost"}, "DOMAIN"),
    ({"DOMAIN": "10.0.0.5"}, "DOMAIN"),
    ({"DOMAIN": ""}, "DOMAIN"),
    ({"TLS_EXTRA_NAMES": "bad_name.example.org"}, "TLS_EXTRA_NAMES"),
    ({"TLS_EXTRA_NAMES": "*.dfr.example.org"}, "dns-01"),
    ({"ACME_EMAIL": ""}, "ACME_EMAIL"),
    ({"ACME_EMAIL": "ops@"}, "ACME_EMAIL"),
    ({"ACME_DIRECTORY_URL": "http://ca.example.org/dir"}, "ACME_DIRECTORY_URL"),
    ({"ACME_CHALLENGE": "tls-alpn-01"}, "ACME_CHALLENGE"),
    ({"ACME_CHALLENGE": "dns-01"}, "ACME_DNS_SERVER"),
    ({"ACME_CHALLENGE": "dns-01", "ACME_DNS_SERVER": "ns1;rm"}, "ACME_DNS_SERVER"),
    ({"ACME_CHALLENGE": "dns-01", "ACME_DNS_SERVER": "ns1.example.org", "ACME_TSIG_ALGORITHM": "hmac-md5"},
     "ACME_TSIG_ALGORITHM"),
    ({"ACME_CHALLENGE": "dns-01", "ACME_DNS_SERVER": "ns1.example.org", "ACME_TSIG_KEY_NAME": "dfr"},
     "acme_tsig_secret"),
    ({"ACME_RENEW_DAYS": "soon"}, "ACME_RENEW_DAYS"),
    ({"ACME_CHECK_INTERVAL": "1"}, "ACME_CHECK_INTERVAL"),
    ({"ACME_KEY_TYPE": "dsa"}, "ACME_KEY_TYPE"),
    ({"TLS_MODE": "self-signed"}, "TLS_MODE"),
])
def test_mistakes_are_one_line_naming_the_setting(environ, changes, named):
    environ.update(changes)
    with pytest.raises(settings.SettingsError) as error:
        settings.load(environ)
    assert named in str(error.value) and "\n" not in str(error.value)


def test_dns01_with_a_tsig_key_whose_secret_file_has_it(environ, tmp_path):
    (tmp_path / "tsig").write_text("c2VjcmV0\n")
    environ.update(ACME_CHALLENGE="dns-01", ACME_DNS_SERVER="ns1.example.org:5353", ACME_TSIG_KEY_NAME="dfr-acme.",
                   ACME_TSIG_ALGORITHM="HMAC-SHA512", ACME_DNS_RESOLVERS="10.0.0.53, ns1.example.org:53",
                   TLS_EXTRA_NAMES="*.dfr.example.org")
    s = settings.load(environ)
    assert (s.dns_server, s.tsig_key, s.tsig_algorithm) == ("ns1.example.org:5353", "dfr-acme", "hmac-sha512")
    assert s.resolvers == ("10.0.0.53", "ns1.example.org:53") and "*.dfr.example.org" in s.names


def test_files_mode_needs_no_acme_setting(environ):
    for key in ("ACME_EMAIL", "DOMAIN"):
        environ.pop(key)
    environ.update(TLS_MODE="files", TLS_CERT_FILE="/certs/fullchain.pem")
    s = settings.load(environ)
    assert s.mode == "files" and str(s.files_cert) == "/certs/fullchain.pem"
