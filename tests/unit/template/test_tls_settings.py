"""Issue 15: the certificate questions of the template and the settings they render."""
import pytest
from dotenv import dotenv_values

from tests.template_helpers import copy_template


def tls_settings(project, env_name):
    return {k: v for k, v in dotenv_values(project / f"config/{env_name}.env").items() if k.startswith(("TLS_", "ACME_"))}


def test_defaults_acme_from_lets_encrypt_on_servers_self_signed_in_devel(root, tmp_path):
    project = copy_template(root, tmp_path / "ke", country_code="ke")
    assert tls_settings(project, "devel") == {"TLS_MODE": "self-signed"}
    for env_name in ("staging", "prod"):
        values = tls_settings(project, env_name)
        assert values["TLS_MODE"] == "acme" and values["ACME_CHALLENGE"] == "http-01"
        assert values["ACME_DIRECTORY_URL"] == "https://acme-v02.api.letsencrypt.org/directory"
        assert values["ACME_EMAIL"] == "ops@example.org"          # the team's address by default
        assert "ACME_DNS_SERVER" not in values


def test_files_in_production_self_signed_staging_dns01(root, tmp_path):
    project = copy_template(root, tmp_path / "sn", country_code="sn", tls_mode="files", tls_mode_staging="self-signed")
    assert tls_settings(project, "prod") == {"TLS_MODE": "files", "TLS_FILES_DIR": "/etc/dfr/tls/prod"}
    assert tls_settings(project, "staging") == {"TLS_MODE": "self-signed"}
    project = copy_template(root, tmp_path / "gh", country_code="gh", acme_challenge="dns-01",
                            acme_dns_server="ns1.mofa.gov.gh:53", acme_tsig_key_name="dfr-acme",
                            acme_directory_url="https://ca.mofa.gov.gh/acme/directory")
    values = tls_settings(project, "prod")
    assert values["ACME_DNS_SERVER"] == "ns1.mofa.gov.gh:53" and values["ACME_TSIG_KEY_NAME"] == "dfr-acme"
    assert values["ACME_DIRECTORY_URL"] == "https://ca.mofa.gov.gh/acme/directory"
    assert "secret" not in "".join(values).lower()     # the TSIG secret is a file in .docker/<env>/


@pytest.mark.parametrize("answers,field", [
    ({"tls_mode": "letsencrypt"}, "tls_mode"),
    ({"acme_directory_url": "http://ca.example.org/dir"}, "acme_directory_url"),
    ({"acme_email": "nobody"}, "acme_email"),
    ({"acme_challenge": "dns-01"}, "acme_dns_server"),
])
def test_bad_certificate_answers_are_refused_naming_the_field(root, tmp_path, answers, field):
    with pytest.raises(Exception) as error:
        copy_template(root, tmp_path / "bad", country_code="ke", **answers)
    assert field in str(error.value)
