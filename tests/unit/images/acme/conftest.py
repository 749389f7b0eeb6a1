"""The acme image's program (acme/dfr_acme, standard library + the openssl command) for the
tests, and real certificates made with openssl for them."""
import subprocess
import sys
from pathlib import Path

import pytest

ACME = Path(__file__).resolve().parents[4] / "acme"
if str(ACME) not in sys.path:
    sys.path.insert(0, str(ACME))


def make_cert(folder, names, days=90, name="cert", issuer=None, ocsp=None):
    """A real EC certificate (+ key) for names, self-signed or signed by issuer=(cert, key)."""
    folder = Path(folder)
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    san = ",".join(f"DNS:{n}" for n in names)
    args = ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", f"/CN={names[0]}", "-keyout", str(key), "-addext", f"subjectAltName={san}"]
    if ocsp:
        args += ["-addext", f"authorityInfoAccess=OCSP;URI:{ocsp}"]
    if issuer is None:
        args += ["-x509", "-days", str(days), "-out", str(cert)]
        subprocess.run(args, check=True, capture_output=True)
    else:
        csr = folder / f"{name}.csr"
        subprocess.run(args + ["-out", str(csr)], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(issuer[0]), "-CAkey", str(issuer[1]),
                        "-CAcreateserial", "-days", str(days), "-copy_extensions", "copy", "-out", str(cert)],
                       check=True, capture_output=True)
    return cert, key


@pytest.fixture
def environ(tmp_path):
    """A complete acme-mode environment pointing every folder into tmp_path."""
    for folder in ("state", "certs", "webroot", "metrics"):
        (tmp_path / folder).mkdir()
    return {"TLS_MODE": "acme", "DOMAIN": "dfr.example.org", "TLS_EXTRA_NAMES": "www.dfr.example.org",
            "ACME_EMAIL": "ops@example.org", "DFR_ENV": "prod", "COMPOSE_PROJECT_NAME": "dfr-prod",
            "DFR_ACME_STATE_DIR": str(tmp_path / "state"), "DFR_ACME_CERTS_DIR": str(tmp_path / "certs"),
            "DFR_ACME_WEBROOT": str(tmp_path / "webroot"), "DFR_ACME_METRICS_DIR": str(tmp_path / "metrics"),
            "DFR_ACME_EXTRA_CA": str(tmp_path / "extra-ca.pem"),
            "ACME_TSIG_SECRET_FILE": str(tmp_path / "tsig")}
