"""What a PEM certificate says, read with openssl (the image's only crypto tool), and whether a
private key belongs to it. Nothing here trusts the file: unreadable or odd input gives None."""
import calendar
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Certificate:
    names: tuple          # subjectAltName DNS names (the subject's CN when there are none)
    subject: str
    issuer: str
    serial: str
    not_before: float     # unix time
    not_after: float
    ocsp: str             # the OCSP responder it names, or ""

    @property
    def self_signed(self):
        return self.subject == self.issuer

    @property
    def lifetime(self):
        return max(0.0, self.not_after - self.not_before)

    def days_left(self, now=None):
        return (self.not_after - (time.time() if now is None else now)) / 86400


def _openssl(*args, stdin=None):
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=60)
    return result.stdout.decode("utf-8", "replace") if result.returncode == 0 else None


def _date(text):
    """openssl's 'Nov 29 20:31:14 2026 GMT' as unix time."""
    return float(calendar.timegm(time.strptime(text.strip(), "%b %d %H:%M:%S %Y %Z")))


def parse(text):
    """A Certificate from `openssl x509 -noout -serial -dates -issuer -subject -ext subjectAltName
    -nameopt RFC2253` output (then `-ocsp_uri`'s), or None."""
    fields, names, ocsp, in_san = {}, [], "", False
    for line in text.splitlines():
        stripped = line.strip()
        if in_san:
            names += [part.strip()[4:] for part in stripped.split(",") if part.strip().startswith("DNS:")]
            in_san = False
        elif stripped.startswith("X509v3 Subject Alternative Name"):
            in_san = True
        elif "=" in stripped and stripped.split("=", 1)[0] in ("serial", "notBefore", "notAfter", "issuer", "subject"):
            key, value = stripped.split("=", 1)
            fields[key] = value.strip()
        elif stripped.startswith("http://") or stripped.startswith("https://"):
            ocsp = ocsp or stripped
    try:
        not_before, not_after = _date(fields["notBefore"]), _date(fields["notAfter"])
    except (KeyError, ValueError):
        return None
    subject = fields.get("subject", "")
    if not names:
        names = [part[3:] for part in subject.split(",") if part.startswith("CN=")]
    return Certificate(tuple(names), subject, fields.get("issuer", ""), fields.get("serial", ""),
                       not_before, not_after, ocsp)


def read(path):
    """The first certificate of a PEM file (a full chain starts with the site's own), or None."""
    out = _openssl("x509", "-in", str(path), "-noout", "-serial", "-dates", "-issuer", "-subject",
                   "-ext", "subjectAltName", "-nameopt", "RFC2253")
    if not out:
        return None
    # Asked apart: OpenSSL 3.0 prints no -ocsp_uri when -ext is given too.
    return parse(out + (_openssl("x509", "-in", str(path), "-noout", "-ocsp_uri") or ""))


def key_matches(cert_path, key_path):
    """True when the private key in key_path belongs to the certificate in cert_path."""
    cert_key = _openssl("x509", "-in", str(cert_path), "-noout", "-pubkey")
    key = _openssl("pkey", "-in", str(key_path), "-pubout")
    return bool(cert_key) and cert_key == key

