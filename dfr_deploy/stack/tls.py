"""The site's TLS certificate: is the environment's TLS_MODE deployable, and which certificate
does nginx serve right now (`invoke tls`).

TLS_MODE (config/<env>.env):
  acme         obtained and renewed by the acme service (acme.yaml, acme/README.md)
  files        two files from a PKI in TLS_FILES_DIR (acme/compose/files.yaml)
  self-signed  nginx's own certificate: browsers and the mobile field apps refuse it, so staging
               and production deploy with it only when it is asked for by name
The served certificate is read where nginx serves it: `openssl s_client` to 127.0.0.1:443 inside
the nginx container, with DOMAIN as the TLS name; the acme service adds its last renewal.
"""
import calendar
import ipaddress
import json
import re
import time
from pathlib import Path

from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from .. import docker as d
from ..errors import DfrError
from . import services

MODES = ("acme", "files", "self-signed")
SERVERS = ("staging", "prod")
PEM = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")


def mode(env):
    """The environment's TLS_MODE ("" when a staging/prod settings file does not say)."""
    return env.get("TLS_MODE", "self-signed" if env.name == "devel" else "")


def _where(env):
    return f"config/{env.name}.env"


def check_settings(env):
    """Refuse, before anything starts, a TLS setup that cannot work or would serve a self-signed
    certificate without being asked to. Returns the mode. (Settings and files only, no docker.)"""
    chosen, where = mode(env), _where(env)
    if chosen not in MODES:
        if env.name in SERVERS and not chosen:
            raise DfrError(f"{where} has no TLS_MODE, so {env.name} would serve a self-signed certificate that "
                           f"browsers and the field apps refuse: set TLS_MODE=acme (Let's Encrypt or your ACME CA), "
                           f"TLS_MODE=files (your PKI's files in TLS_FILES_DIR), or TLS_MODE=self-signed to accept "
                           f"it, in {where}")
        raise DfrError(f"TLS_MODE={chosen!r} in {where} is not valid: use acme, files or self-signed")
    if chosen == "acme":
        _check_acme(env, where)
    elif chosen == "files":
        folder = files_dir(env)
        for name in ("fullchain.pem", "privkey.pem"):
            if not (folder / name).is_file():
                raise DfrError(f"TLS_MODE=files but {folder / name} is missing: put the certificate (then its "
                               f"intermediates) in fullchain.pem and its key in privkey.pem there, or change "
                               f"TLS_FILES_DIR in {where}")
    return chosen


def files_dir(env):
    value = env.get("TLS_FILES_DIR", "")
    if not value:
        raise DfrError(f"TLS_MODE=files needs TLS_FILES_DIR (the folder with fullchain.pem and privkey.pem) in "
                       f"{_where(env)}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else env.root / path


def _check_acme(env, where):
    names = [env.get("DOMAIN", "localhost")] + re.split(r"[\s,]+", env.get("TLS_EXTRA_NAMES", "").strip())
    for name in filter(None, names):
        if name == "localhost" or "." not in name or _is_address(name):
            raise DfrError(f"TLS_MODE=acme cannot get a certificate for {name!r}: a certificate authority checks "
                           f"public DNS names only; set DOMAIN (and TLS_EXTRA_NAMES) in {where}, or use "
                           f"TLS_MODE=self-signed")
    if not (env.get("ACME_EMAIL", "") or env.get("ADMIN_EMAIL", "")):
        raise DfrError(f"TLS_MODE=acme needs ACME_EMAIL (the CA writes there about the certificate) in {where}")
    challenge = env.get("ACME_CHALLENGE", "http-01")
    if challenge not in ("http-01", "dns-01"):
        raise DfrError(f"ACME_CHALLENGE={challenge!r} in {where}: use http-01 or dns-01")
    secret = env.secrets_dir / "acme_tsig_secret"
    if not secret.is_file():
        raise DfrError(f"{secret} is missing: run `invoke secrets --env={env.name}` (it is empty unless "
                       f"ACME_CHALLENGE=dns-01)")
    if challenge == "dns-01":
        if not env.get("ACME_DNS_SERVER", ""):
            raise DfrError(f"ACME_CHALLENGE=dns-01 needs ACME_DNS_SERVER (the DNS server taking RFC 2136 updates) "
                           f"in {where}")
        if env.get("ACME_TSIG_KEY_NAME", "") and not secret.read_text().strip():
            raise DfrError(f"{secret} is empty: put the secret of the TSIG key {env.get('ACME_TSIG_KEY_NAME')} "
                           f"(base64, from the DNS server's key file) in it")
    bundle = env.get("ACME_CA_BUNDLE", "")
    if bundle:
        path = Path(bundle).expanduser()
        path = path if path.is_absolute() else env.root / path
        if not path.is_file() or "-----BEGIN CERTIFICATE-----" not in path.read_text(errors="replace"):
            raise DfrError(f"ACME_CA_BUNDLE={bundle} in {where} is not a PEM file of CA certificates: give the "
                           f"file with your ACME CA's root certificate, or remove the setting")


def _is_address(name):
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


# --- reading certificates with the nginx image's openssl ---------------------------------------

def _date(text):
    return float(calendar.timegm(time.strptime(text.strip(), "%b %d %H:%M:%S %Y %Z")))


def parse(text):
    """{names, subject, issuer, serial, not_before, not_after, self_signed} from `openssl x509
    -noout -serial -dates -issuer -subject -ext subjectAltName -nameopt RFC2253`, or None."""
    fields, names, in_san = {}, [], False
    for line in text.splitlines():
        line = line.strip()
        if in_san:
            names = [part.strip()[4:] for part in line.split(",") if part.strip().startswith("DNS:")]
            in_san = False
        elif line.startswith("X509v3 Subject Alternative Name"):
            in_san = True
        elif "=" in line:
            key, value = line.split("=", 1)
            fields[key] = value.strip()
    try:
        not_before, not_after = _date(fields["notBefore"]), _date(fields["notAfter"])
    except (KeyError, ValueError):
        return None
    subject, issuer = fields.get("subject", ""), fields.get("issuer", "")
    return {"names": names or [p[3:] for p in subject.split(",") if p.startswith("CN=")], "subject": subject,
            "issuer": issuer, "serial": fields.get("serial", ""), "not_before": not_before,
            "not_after": not_after, "self_signed": subject == issuer}


X509 = ("openssl", "x509", "-noout", "-serial", "-dates", "-issuer", "-subject", "-ext", "subjectAltName",
        "-nameopt", "RFC2253")


def describe_pem(env, pem):
    """What a PEM certificate says, read by openssl in a throwaway container of the nginx image
    (no network; the certificate on stdin)."""
    command = d.docker()["run", "--rm", "-i", "--network", "none", "--entrypoint", X509[0], env.image("nginx"), X509[1:]]
    try:
        out = (command << pem).run(timeout=120)[1]
    except (ProcessExecutionError, ProcessTimedOut):
        return None
    return parse(out)


def check_certificate_files(env):
    """TLS_MODE=files: refuse files that are self-signed (unless TLS_MODE=self-signed, which then
    makes nginx's own), already expired, or not for DOMAIN. Needs the nginx image."""
    if mode(env) != "files":
        return None
    path = files_dir(env) / "fullchain.pem"
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        raise DfrError(f"cannot read {path}: {error.strerror}") from None
    found = PEM.search(text)
    info = describe_pem(env, found.group(0) + "\n") if found else None
    if info is None:
        raise DfrError(f"{path} holds no readable certificate: put the PEM certificate your PKI issued there")
    where, domain = _where(env), env.get("DOMAIN", "localhost")
    if info["self_signed"]:
        raise DfrError(f"{path} is a self-signed certificate ({info['subject']}): browsers and the field apps "
                       f"refuse it; install the one your PKI issued, or set TLS_MODE=self-signed in {where}")
    if info["not_after"] < time.time():
        raise DfrError(f"{path} expired on {_day(info['not_after'])}: install the renewed certificate")
    if not any(_matches(pattern, domain) for pattern in info["names"]):
        raise DfrError(f"{path} is for {', '.join(info['names'])}, not DOMAIN={domain} ({where})")
    return info


def _matches(pattern, name):
    if pattern.startswith("*."):
        return name.count(".") == pattern.count(".") and name.endswith(pattern[1:])
    return pattern.lower() == name.lower()


def _day(stamp):
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))


# --- what is served now --------------------------------------------------------------------------

def served(env):
    """The certificate nginx hands to a client asking for DOMAIN, or None when nginx does not run
    or answers no TLS for that name."""
    cid = services.container(env, "nginx")
    if not cid:
        return None
    domain = env.get("DOMAIN", "localhost")
    try:
        # No stdin (no -i): s_client ends right after the handshake.
        out = d.docker()["exec", cid, "openssl", "s_client", "-connect", "127.0.0.1:443", "-servername",
                         domain].run(retcode=None, timeout=60)[1]
    except ProcessTimedOut:
        return None
    found = PEM.search(out)
    if not found:
        return None
    try:
        text = (d.docker()["exec", "-i", cid, X509] << (found.group(0) + "\n")).run(timeout=60)[1]
    except (ProcessExecutionError, ProcessTimedOut):
        return None
    return parse(text)


def acme_status(env):
    """The acme service's own report (`dfr-acme status`), or None when it does not run."""
    cid = services.container(env, "acme")
    if not cid:
        return None
    try:
        code, out, _ = d.docker()["exec", cid, "dfr-acme", "status"].run(retcode=None, timeout=60)
    except ProcessTimedOut:
        return None
    try:
        return json.loads(out) if code == 0 else None
    except ValueError:
        return None


def report(env):
    """What `invoke tls` shows (machine-readable)."""
    cert = served(env)
    if cert:
        cert["days_left"] = round((cert["not_after"] - time.time()) / 86400, 1)
    return {"environment": env.name, "project": env.project_name, "mode": mode(env),
            "domain": env.get("DOMAIN", "localhost"), "served": cert, "acme": acme_status(env)}


def format_report(rep):
    lines = [f"{rep['project']} ({rep['environment']}): TLS_MODE={rep['mode'] or '(not set)'}, "
             f"certificate served for {rep['domain']}"]
    cert = rep["served"]
    if cert is None:
        lines.append("  no certificate served: is nginx running? (`invoke status --env=%s`)" % rep["environment"])
    else:
        kind = "SELF-SIGNED" if cert["self_signed"] else cert["issuer"]
        lines += [f"  names      {', '.join(cert['names'])}",
                  f"  issuer     {kind}",
                  f"  expires    {_day(cert['not_after'])} ({cert['days_left']} days left)",
                  f"  serial     {cert['serial']}"]
    acme = rep["acme"]
    if acme and acme.get("last_run"):
        result = "ok" if acme.get("last_result") else f"FAILED: {acme.get('last_error')}"
        lines.append(f"  renewal    last {_day(acme['last_run'])}: {result}")
        if acme.get("last_success"):
            lines.append(f"             last success {_day(acme['last_success'])}")
        if acme.get("failures") and acme.get("next_attempt"):
            lines.append(f"             next try {_day(acme['next_attempt'])} (failure {acme['failures']})")
        elif acme.get("renew_after"):
            lines.append(f"             renewal due {_day(acme['renew_after'])}")
    elif rep["mode"] == "acme":
        lines.append("  renewal    none yet: see `invoke logs --env=%s --service=acme`" % rep["environment"])
    return "\n".join(lines)


def renew(env):
    """Renew now through the acme service (`dfr-acme renew --force`); a failure keeps the current
    certificate and is retried by the service. Returns its one-line answer."""
    if mode(env) != "acme":
        raise DfrError(f"renewing needs TLS_MODE=acme ({_where(env)} says {mode(env) or 'nothing'})")
    cid = services.container(env, "acme")
    if not cid:
        raise DfrError(f"the acme service does not run: `invoke deploy --env={env.name}` first")
    code, out, err = d.docker()["exec", cid, "dfr-acme", "renew", "--force"].run(retcode=None, timeout=1200)
    last = ((out + err).strip().splitlines() or [""])[-1]
    if code != 0:
        raise DfrError(f"renewal failed, the current certificate stays and the acme service retries: {last}")
    return last


def wait_issued(env, timeout=180, interval=2):
    """After a deploy in acme mode: wait (bounded) until nginx serves a certificate that is not
    its self-signed placeholder. Returns the certificate, or None when it did not come in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cert = served(env)
        if cert and not cert["self_signed"]:
            return cert
        time.sleep(interval)
    return None
