"""dfr-acme COMMAND: the acme service's entry point.

  run               the service (the container's command): obtain a certificate if there is
                    none, renew it when due, look again twice a day (ACME_CHECK_INTERVAL), retry
                    after failures with a growing delay; in files mode, report the mounted
                    certificate's expiry every 5 minutes
  renew [--force]   one renewal now if due (with --force: in any case; a failed forced renewal
                    is retried by the service until it works); exit 0 when it worked or was not
                    due, 1 when it failed
  status            what `invoke tls` shows, as JSON: mode, names, the live certificate, the last
                    renewal and its error, the next try
  health            the container's health check: the loop is alive (not: the CA answers)
  check             the settings only: exit 2 with one line when one is wrong
"""
import json
import os
import sys
import time
from pathlib import Path

from . import certificate, renewal, settings as settings_module, store

HEARTBEAT = Path("/tmp/dfr-acme.heartbeat")


def heartbeat():
    HEARTBEAT.touch()


def _sleep_until(settings, wake):
    """Sleep in short steps until `wake`, earlier when a failed `renew --force` asks for a retry."""
    while True:
        heartbeat()
        now = time.time()
        state = store.load_state(settings.state_dir) if settings.mode == "acme" else {}
        if state.get("force") and (state.get("next_attempt") or 0) <= now:
            return
        if now >= wake:
            return
        time.sleep(min(settings.chunk, max(0.2, wake - now)))


def run(settings):
    if settings.mode == "files":   # nothing to write but the metrics (no state volume here)
        renewal.log(f"files mode: reporting the expiry of {settings.files_cert} every {renewal.FILES_INTERVAL} s")
        while True:
            _sleep_until(settings, renewal.files_tick(settings))
    os.umask(0o022)   # lego's challenge files must be readable by nginx's workers
    store.private_dir(settings.state_dir)
    store.private_dir(settings.certs_dir)
    Path(settings.webroot).mkdir(parents=True, exist_ok=True)
    os.chmod(settings.webroot, 0o755)
    # A (re)start is someone asking to try now: a retry waiting after failures goes first.
    with store.locked(settings.state_dir):
        state = store.load_state(settings.state_dir)
        if state.get("next_attempt"):
            state["next_attempt"] = time.time()
            store.save_state(settings.state_dir, state)
    renewal.log(f"watching the certificate for {' '.join(settings.names)} ({settings.challenge}, "
                f"{settings.directory}); renewal {settings.renew_days:g} days (or a third of its lifetime) "
                f"before expiry, checked every {settings.check_interval} s")
    while True:
        with store.locked(settings.state_dir):
            wake = renewal.tick(settings, heartbeat)
        _sleep_until(settings, wake)


def renew(settings, force):
    if settings.mode != "acme":
        print("dfr-acme: renew needs TLS_MODE=acme", file=sys.stderr)
        return 2
    with store.locked(settings.state_dir, wait=settings.lego_timeout + 60):
        state = store.load_state(settings.state_dir)
        if force:
            state["force"] = True
            store.save_state(settings.state_dir, state)
        cert, meta = store.current(settings.certs_dir)
        reason = renewal.due(settings, cert, meta, state, time.time())
        if not reason:
            print(f"dfr-acme: not due: the certificate expires in {cert.days_left():.1f} days")
            return 0
        return 0 if renewal.attempt(settings, reason) else 1


def status(settings):
    state = store.load_state(settings.state_dir) if settings.mode == "acme" else {}
    if settings.mode == "acme":
        cert, meta = store.current(settings.certs_dir)
    else:
        cert, meta = certificate.read(settings.files_cert), {}
    answer = {"mode": settings.mode, "names": list(settings.names), "directory": settings.directory,
              "challenge": settings.challenge, "certificate": None, "issued_at": meta.get("issued_at"),
              **{key: state.get(key) for key in ("last_run", "last_result", "last_success", "last_error",
                                                 "last_reason", "failures", "next_attempt", "force")}}
    if cert is not None:
        answer["certificate"] = {"names": list(cert.names), "subject": cert.subject, "issuer": cert.issuer,
                                 "serial": cert.serial, "not_before": cert.not_before, "not_after": cert.not_after,
                                 "days_left": round(cert.days_left(), 2)}
        if settings.mode == "acme":
            answer["renew_after"] = cert.not_after - renewal.threshold(settings, cert)
    print(json.dumps(answer, indent=1, sort_keys=True))
    return 0


def health(settings):
    try:
        age = time.time() - HEARTBEAT.stat().st_mtime
    except OSError:
        return 1
    return 0 if age < 3 * settings.chunk + 60 else 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("run", "renew", "status", "health", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        settings = settings_module.load()
    except settings_module.SettingsError as problem:
        print(f"dfr-acme: {problem}", file=sys.stderr, flush=True)
        return 2
    command = argv[0]
    if command == "run":
        run(settings)
    if command == "renew":
        return renew(settings, "--force" in argv[1:])
    if command == "status":
        return status(settings)
    if command == "health":
        return health(settings)
    print(f"dfr-acme: settings fine ({settings.mode}, {' '.join(settings.names)})")
    return 0
