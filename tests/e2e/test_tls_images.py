"""Issue 15: the nginx and acme images on their own (no stack), hardened as in the compose files:
nginx's TLS modes, its certificate watcher and OCSP stapling; the acme image's files mode."""
import json
import secrets as random_source
import ssl
import sys

from dfr_deploy import environments, images
from dfr_deploy.docker import docker
from .conftest import ROOT, TEST_REGISTRY, docker_out, free_port
from .http import wait_until
from .tls_testbed import DOMAIN

sys.path.insert(0, str(ROOT / "acme"))
from dfr_acme import store  # noqa: E402  (the acme service's own release writer, standard library only)

HARDENED = ["--init", "--read-only", "--cap-drop", "ALL", "--cap-add", "CHOWN", "--cap-add", "SETUID", "--cap-add",
            "SETGID", "--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges:true",
            "--tmpfs", "/run:mode=0755", "--tmpfs", "/tmp:mode=1777", "--tmpfs", "/var/lib/nginx:mode=0755",
            "--tmpfs", "/etc/nginx/conf.d:mode=0755", "--tmpfs", "/var/cache/nginx"]


def openssl(*args):
    docker()["run", "--rm", "--network", "none", "-v", f"{args[0]}:/w", "-w", "/w", "--entrypoint", "openssl",
             f"{TEST_REGISTRY}/nginx:prod", args[1:]].run(timeout=120)


def leaf(folder, name, ca=None, ocsp=None):
    """A certificate for DOMAIN (+ key) in folder: signed by the test CA `ca`, or a CA itself."""
    extra = ["-addext", f"authorityInfoAccess=OCSP;URI:{ocsp}"] if ocsp else []
    if ca is None:
        openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "30", "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem")
    else:
        openssl(folder, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
                f"/CN={DOMAIN}", "-addext", f"subjectAltName=DNS:{DOMAIN}", *extra, "-keyout", f"{name}.key",
                "-out", f"{name}.csr")
        openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "30", "-copy_extensions", "copy", "-out", f"{name}.pem")
    return (folder / f"{name}.pem").read_bytes(), (folder / f"{name}.key").read_bytes()


def served_der(port):
    sock = ssl.create_connection(("127.0.0.1", port), timeout=5)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with context.wrap_socket(sock, server_hostname=DOMAIN) as tls_sock:
        return tls_sock.getpeercert(binary_form=True)


def der(pem):
    return ssl.PEM_cert_to_DER_cert(pem.decode().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")


def run_nginx(name, port, *args):
    return docker_out("run", "-d", "--name", name, *HARDENED, "-p", f"127.0.0.1:{port}:443",
                      "-e", f"NGINX_SERVER_NAME={DOMAIN}", "-e", "TLS_WATCH_INTERVAL=1", *args,
                      f"{TEST_REGISTRY}/nginx:prod").strip()


def container_logs(cid):
    _, out, err = docker()["logs", cid].run(timeout=60)
    return out + err


def test_nginx_and_acme_images_alone(test_images, tmp_path):
    """nginx, hardened as in common.yaml: with no ACME certificate it starts on a self-signed
    placeholder (a CA that never answered does not stop the site); it takes the acme service's
    pair when it appears, refuses a pair whose key is not the certificate's (the served one
    stays), staples OCSP only for a certificate that names a responder; in files mode it reloads
    files replaced on the host, and refuses to start without them. The acme image in files mode
    reports the mounted certificate's expiry."""
    token = random_source.token_hex(3)
    work = tmp_path / "pki-work"
    work.mkdir()
    leaf(work, "ca")
    first, first_key = leaf(work, "first", ca="ca", ocsp="http://ocsp.dfrh4.test/")
    second, second_key = leaf(work, "second", ca="ca")
    certs, pki, metrics = tmp_path / "certs", tmp_path / "pki", tmp_path / "metrics"
    certs.mkdir(mode=0o700)
    pki.mkdir()
    metrics.mkdir(mode=0o755)
    made = []
    try:
        port = free_port()
        cid = run_nginx(f"dfrh4{token}-acme", port, "-e", "TLS_MODE=acme", "-v", f"{certs}:/var/lib/dfr-acme/certs:ro")
        made.append(cid)
        placeholder = wait_until(lambda: served_der(port), 30, interval=0.5, what="nginx answering")
        assert "serving a self-signed placeholder" in container_logs(cid)

        store.install(certs, first, first_key, {"serial": "first"})
        wait_until(lambda: served_der(port) == der(first), 30, interval=0.5, what="the first pair served")
        assert placeholder != der(first)
        config = docker_out("exec", cid, "nginx", "-T", timeout=60)
        assert "ssl_stapling on; ssl_stapling_verify on;" in config

        store.install(certs, second, first_key, {"serial": "mismatch"})     # a key that is not the certificate's
        wait_until(lambda: "not usable" in container_logs(cid), 30, interval=0.5, what="the broken pair refused")
        assert served_der(port) == der(first)

        store.install(certs, second, second_key, {"serial": "second"})
        wait_until(lambda: served_der(port) == der(second), 30, interval=0.5, what="the second pair served")
        assert "ssl_stapling on" not in docker_out("exec", cid, "nginx", "-T", timeout=60)
        assert container_logs(cid).count("dfr-tls-watch: certificate changed: nginx reloaded") >= 2

        # files mode: missing files stop the start with one line; files replaced on the host are served
        code = docker()["run", "--rm", *HARDENED, "-e", "TLS_MODE=files", "-v", f"{pki}:/etc/nginx/tls:ro",
                        f"{TEST_REGISTRY}/nginx:prod"].run(retcode=None, timeout=120)
        assert code[0] != 0 and "10-tls-cert: ERROR: /etc/nginx/tls/fullchain.pem is missing" in code[2]
        for name, data in (("privkey.pem", first_key), ("fullchain.pem", first)):
            store.write_file(pki / name, data)
        files_port = free_port()
        files_cid = run_nginx(f"dfrh4{token}-files", files_port, "-e", "TLS_MODE=files", "-v", f"{pki}:/etc/nginx/tls:ro")
        made.append(files_cid)
        wait_until(lambda: served_der(files_port) == der(first), 30, interval=0.5, what="the mounted pair served")
        for name, data in (("privkey.pem", second_key), ("fullchain.pem", second)):
            store.write_file(pki / name, data)
        wait_until(lambda: served_der(files_port) == der(second), 30, interval=0.5, what="the replaced pair served")

        # the acme image in files mode: no network, the expiry of the mounted certificate
        acme_image = f"{TEST_REGISTRY}/acme:prod"
        images.build(environments.resolve("prod", overrides={"IMAGE_REGISTRY": TEST_REGISTRY, "IMAGE_TAG": "prod"}),
                     ("acme",))
        acme_cid = docker_out("run", "-d", "--name", f"dfrh4{token}-files-acme", "--init", "--read-only",
                              "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--network", "none",
                              "--tmpfs", "/tmp", "-e", "TLS_MODE=files", "-e", f"DOMAIN={DOMAIN}", "-e", "DFR_ENV=prod",
                              "-e", "COMPOSE_PROJECT_NAME=dfr-prod", "-v", f"{pki}:/etc/dfr-acme/files:ro",
                              "-v", f"{metrics}:/var/lib/dfr-acme/metrics", acme_image).strip()
        made.append(acme_cid)
        prom = wait_until(lambda: (metrics / "dfr_tls.prom").exists() and (metrics / "dfr_tls.prom").read_text(), 30,
                          interval=0.5, what="dfr_tls.prom")
        status = json.loads(docker_out("exec", acme_cid, "dfr-acme", "status", timeout=60))
        assert status["mode"] == "files" and status["certificate"]["issuer"] == "CN=ca"
        assert f'name="{DOMAIN}"}} {status["certificate"]["not_after"]:.17g}' in prom
        assert "dfr_job_last_result" not in prom      # nothing is renewed in files mode
    finally:
        if made:
            docker()["rm", "-f", *made].run(retcode=None, timeout=120)
