"""Running Debian's lego (an ACME client): arguments as a list, a minimal environment, a bounded
run, and its multi-line failure said in one line.

lego keeps its account (key + registration) and the certificates it obtained in STATE/lego;
the service copies a new pair from there into a release of the certificate volume. The TSIG
secret is read by lego itself from the compose secret file (RFC2136_TSIG_SECRET_FILE, lego's
*_FILE convention): never in an argument or an environment value.
"""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")
BUNDLE = Path("/tmp/dfr-acme-ca-bundle.pem")


def storage(settings):
    return Path(settings.state_dir) / "lego"


def files(settings):
    """Where lego puts the pair for the first name (its file name: '*' becomes '_')."""
    base = str(storage(settings) / "certificates" / settings.domain.replace("*", "_"))
    return Path(base + ".crt"), Path(base + ".key")


def ca_bundle(settings):
    """The system's CAs plus ACME_CA_BUNDLE's (an internal CA, pebble's test CA), or None when
    the extra file holds no certificate. Written to /tmp (tmpfs) at every run."""
    try:
        extra = Path(settings.extra_ca).read_text()
    except OSError:
        return None
    if "-----BEGIN CERTIFICATE-----" not in extra:
        return None
    system = SYSTEM_CAS.read_text() if SYSTEM_CAS.exists() else ""
    BUNDLE.write_text(system.rstrip("\n") + "\n" + extra)
    return BUNDLE


def command(settings):
    """lego's arguments for one `run` (a new order: obtains or renews, with a new key)."""
    args = ["lego", "--accept-tos", "--email", settings.email, "--server", settings.directory,
            "--path", str(storage(settings)), "--key-type", settings.key_type]
    for name in settings.names:
        args += ["--domains", name]
    if settings.challenge == "dns-01":
        args += ["--dns", "rfc2136"]
        for resolver in settings.resolvers:
            args += ["--dns.resolvers", resolver]
    else:
        args += ["--http", "--http.webroot", str(settings.webroot)]
    return args + ["run"]


def environment(settings):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    bundle = ca_bundle(settings)
    if bundle:
        env["LEGO_CA_CERTIFICATES"] = str(bundle)
    if settings.challenge == "dns-01":
        env["RFC2136_NAMESERVER"] = settings.dns_server
        if settings.tsig_key:
            env.update(RFC2136_TSIG_KEY=settings.tsig_key + ".", RFC2136_TSIG_ALGORITHM=settings.tsig_algorithm + ".",
                       RFC2136_TSIG_SECRET_FILE=str(settings.tsig_secret_file))
    return env


def summary(output):
    """lego's failure in one line: from its first error line on, without timestamps and [INFO]
    lines (or its last lines when none says error)."""
    lines = [re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not line.startswith("[INFO]")]
    first = next((i for i, line in enumerate(lines) if re.search(r"error|could not|unable|failed|timeout|did not",
                                                                  line, re.I)), max(0, len(lines) - 3))
    text = " ".join(lines[first:]) or "lego failed without saying why"
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= 400 else text[:397] + "..."


def account_unknown(output):
    return "accountDoesNotExist" in output


def forget_account(settings):
    """Move the account for this directory aside: the CA does not know it any more (an internal
    CA reinstalled, a test CA restarted), so the next run registers a new one."""
    host = urlsplit(settings.directory).netloc.replace(":", "_")
    folder = storage(settings) / "accounts" / host
    if folder.exists():
        aside = folder.with_name(f"{folder.name}.unknown-{int(time.time())}")
        shutil.move(str(folder), str(aside))
        return aside
    return None


def run(settings, log_path, heartbeat=None):
    """One lego run, bounded by ACME_LEGO_TIMEOUT; returns (ok, its output). heartbeat() is
    called every few seconds meanwhile (the service's health check)."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(command(settings), env=environment(settings), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + settings.lego_timeout
        timed_out = False
        while True:
            try:
                process.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                if heartbeat:
                    heartbeat()
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    timed_out = True
                    break
    output = Path(log_path).read_text(errors="replace")
    if timed_out:
        return False, output + f"\nlego did not finish within ACME_LEGO_TIMEOUT={settings.lego_timeout} s"
    return process.returncode == 0, output
