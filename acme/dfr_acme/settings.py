"""The acme service's settings, read from its environment (acme.yaml passes config/<env>.env's
values) and checked once at start: a mistake stops the service with one line naming the setting.

The TSIG secret is never a setting: it is the compose secret /run/secrets/acme_tsig_secret, and
lego reads it from that file itself (RFC2136_TSIG_SECRET_FILE).
"""
import os
import re
from dataclasses import dataclass
from pathlib import Path

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
# A DNS name (lower case); a wildcard only as the first label (DNS-01 only).
NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
HOST_PORT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
EMAIL = re.compile(r"^[^@\s\"'\\]+@[^@\s\"'\\]+\.[A-Za-z]{2,}$")
ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")
KEY_TYPES = ("ec256", "ec384", "rsa2048", "rsa4096")
WHERE = "config/<env>.env"


class SettingsError(Exception):
    """A setting is missing or wrong: the message says which and what to write."""


@dataclass(frozen=True)
class Settings:
    mode: str                      # acme | files
    domain: str
    names: tuple                   # DOMAIN first, then TLS_EXTRA_NAMES
    environment: str
    project: str
    directory: str = LETS_ENCRYPT
    email: str = ""
    challenge: str = "http-01"
    dns_server: str = ""
    tsig_key: str = ""
    tsig_algorithm: str = "hmac-sha256"
    tsig_secret_file: Path = Path("/run/secrets/acme_tsig_secret")
    resolvers: tuple = ()
    key_type: str = "ec256"
    renew_days: float = 30
    check_interval: int = 43200    # twice a day
    retry_seconds: int = 600       # first retry after a failure, doubled each time
    lego_timeout: int = 900
    state_dir: Path = Path("/var/lib/dfr-acme/state")
    certs_dir: Path = Path("/var/lib/dfr-acme/certs")
    webroot: Path = Path("/var/www/acme")
    metrics_dir: Path = Path("/var/lib/dfr-acme/metrics")
    extra_ca: Path = Path("/etc/dfr-acme/extra-ca.pem")
    files_cert: Path = Path("/etc/dfr-acme/files/fullchain.pem")
    files_key: Path = Path("/etc/dfr-acme/files/privkey.pem")

    @property
    def chunk(self):
        """Longest sleep between two looks at the state (heartbeat, a forced renewal's retry)."""
        return max(1, min(60, self.retry_seconds))


def _split(value):
    return [part for part in re.split(r"[\s,]+", value.strip()) if part]


def _number(environ, key, default, minimum, kind=int):
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number: set it in {WHERE}") from None
    if value < minimum:
        raise SettingsError(f"{key}={raw} is too small (at least {minimum}): set it in {WHERE}")
    return value


def _names(environ, challenge):
    domain = environ.get("DOMAIN", "").strip().lower()
    names = [domain] + [n.lower() for n in _split(environ.get("TLS_EXTRA_NAMES", ""))]
    for name in names:
        if not name or name == "localhost" or not NAME.match(name):
            what = "DOMAIN" if name == domain else "TLS_EXTRA_NAMES"
            raise SettingsError(f"{what}: {name or '(empty)'!s} is not a public DNS name a certificate authority can "
                                f"check (no localhost, no IP address): set it in {WHERE}, or use TLS_MODE=self-signed")
        if name.startswith("*.") and challenge != "dns-01":
            raise SettingsError(f"{name}: a wildcard name needs ACME_CHALLENGE=dns-01 (set it in {WHERE})")
    return domain, tuple(dict.fromkeys(names))


def _dns(environ):
    server = environ.get("ACME_DNS_SERVER", "").strip()
    if not HOST_PORT.match(server):
        raise SettingsError(f"ACME_DNS_SERVER={server!r}: give the DNS server that takes RFC 2136 updates "
                            f"(host or host:port) in {WHERE}")
    key = environ.get("ACME_TSIG_KEY_NAME", "").strip().rstrip(".")
    if key and not re.match(r"^[A-Za-z0-9._-]+$", key):
        raise SettingsError(f"ACME_TSIG_KEY_NAME={key!r} is not a key name: set it in {WHERE}")
    algorithm = (environ.get("ACME_TSIG_ALGORITHM", "").strip().lower() or "hmac-sha256").rstrip(".")
    if algorithm not in ALGORITHMS:
        raise SettingsError(f"ACME_TSIG_ALGORITHM={algorithm!r}: use one of {', '.join(ALGORITHMS)} in {WHERE}")
    resolvers = tuple(_split(environ.get("ACME_DNS_RESOLVERS", "")))
    for resolver in resolvers:
        if not HOST_PORT.match(resolver):
            raise SettingsError(f"ACME_DNS_RESOLVERS: {resolver!r} is not host or host:port ({WHERE})")
    return server, key, algorithm, resolvers


def _has_content(path):
    try:
        return bool(Path(path).read_text().strip())
    except OSError:
        return False


def load(environ=None):
    """Settings from the environment, or SettingsError with one line saying what to change."""
    environ = os.environ if environ is None else environ
    mode = environ.get("TLS_MODE", "").strip()
    if mode not in ("acme", "files"):
        raise SettingsError(f"TLS_MODE={mode!r}: the acme service runs with TLS_MODE=acme or files only")
    challenge = environ.get("ACME_CHALLENGE", "").strip() or "http-01"
    if challenge not in ("http-01", "dns-01"):
        raise SettingsError(f"ACME_CHALLENGE={challenge!r}: use http-01 or dns-01 in {WHERE}")
    if mode == "files":
        domain = environ.get("DOMAIN", "").strip().lower() or "localhost"
        names = (domain,)
    else:
        domain, names = _names(environ, challenge)
    paths = {field: Path(environ[key]) for field, key in (
        ("state_dir", "DFR_ACME_STATE_DIR"), ("certs_dir", "DFR_ACME_CERTS_DIR"), ("webroot", "DFR_ACME_WEBROOT"),
        ("metrics_dir", "DFR_ACME_METRICS_DIR"), ("extra_ca", "DFR_ACME_EXTRA_CA"),
        ("files_cert", "TLS_CERT_FILE"), ("files_key", "TLS_KEY_FILE"),
        ("tsig_secret_file", "ACME_TSIG_SECRET_FILE")) if environ.get(key)}
    values = dict(
        mode=mode, domain=domain, names=names, challenge=challenge,
        environment=environ.get("DFR_ENV", "") or "devel", project=environ.get("COMPOSE_PROJECT_NAME", "") or "dfr",
        key_type=environ.get("ACME_KEY_TYPE", "").strip() or "ec256",
        renew_days=_number(environ, "ACME_RENEW_DAYS", 30, 1, float),
        check_interval=_number(environ, "ACME_CHECK_INTERVAL", 43200, 10),
        retry_seconds=_number(environ, "ACME_RETRY_SECONDS", 600, 1),
        lego_timeout=_number(environ, "ACME_LEGO_TIMEOUT", 900, 30), **paths)
    if values["key_type"] not in KEY_TYPES:
        raise SettingsError(f"ACME_KEY_TYPE={values['key_type']!r}: use one of {', '.join(KEY_TYPES)} in {WHERE}")
    if mode == "acme":
        directory = environ.get("ACME_DIRECTORY_URL", "").strip() or LETS_ENCRYPT
        if not re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$", directory):
            raise SettingsError(f"ACME_DIRECTORY_URL={directory!r}: give the https:// address of the ACME "
                                f"directory (Let's Encrypt: {LETS_ENCRYPT}) in {WHERE}")
        email = environ.get("ACME_EMAIL", "").strip()
        if not EMAIL.match(email):
            raise SettingsError(f"ACME_EMAIL={email!r}: give the e-mail address the certificate authority writes "
                                f"to about this site's certificates in {WHERE}")
        values.update(directory=directory, email=email)
        if challenge == "dns-01":
            server, key, algorithm, resolvers = _dns(environ)
            values.update(dns_server=server, tsig_key=key, tsig_algorithm=algorithm, resolvers=resolvers)
            secret = values.get("tsig_secret_file", Settings.tsig_secret_file)
            if key and not _has_content(secret):
                raise SettingsError(f"ACME_TSIG_KEY_NAME={key} is set but the secret acme_tsig_secret is empty: put "
                                    "the TSIG key's secret (base64, from the DNS server's key file) in "
                                    ".docker/<env>/acme_tsig_secret")
    return Settings(**values)
