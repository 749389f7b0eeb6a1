"""When to renew, one renewal attempt, and the files mode's report.

A certificate is renewed when it is missing, names other names than DOMAIN + TLS_EXTRA_NAMES,
came from another ACME_DIRECTORY_URL (a trial on a staging CA, then the real one), or has less
left than ACME_RENEW_DAYS or a third of its lifetime, whichever is shorter (Let's Encrypt's own
advice: 30 days of a 90-day certificate; short-lived certificates get renewed in time too).
A failed attempt leaves the served certificate alone, says why in one log line and in the
metrics (dfr_job_last_result 0), and is retried after ACME_RETRY_SECONDS, doubled after each
failure up to ACME_CHECK_INTERVAL.
"""
import time
from pathlib import Path

from . import certificate, lego, metrics, store

FILES_INTERVAL = 300   # files mode: how often the mounted certificate's expiry is read again


def log(message):
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + " dfr-acme: " + message, flush=True)


def threshold(settings, cert):
    """Seconds before expiry at which the certificate is renewed."""
    return min(settings.renew_days * 86400, cert.lifetime / 3)


def due(settings, cert, meta, state, now):
    """Why the certificate must be renewed now, or None."""
    if state.get("force"):
        return "a renewal was asked for (dfr-acme renew --force)"
    if cert is None:
        return "there is no certificate yet"
    if set(cert.names) != set(settings.names):
        return f"the names changed ({' '.join(cert.names)} -> {' '.join(settings.names)})"
    if meta.get("directory") and meta["directory"] != settings.directory:
        return f"ACME_DIRECTORY_URL changed (it came from {meta['directory']})"
    if cert.not_after - now <= threshold(settings, cert):
        return f"it expires in {cert.days_left(now):.1f} days"
    return None


def backoff(settings, failures):
    return min(settings.check_interval, settings.retry_seconds * 2 ** max(0, failures - 1))


def wake_at(settings, cert, state, now):
    """When the loop looks again: the retry of a failure, the renewal date, or the next check."""
    if state.get("failures") and state.get("next_attempt"):
        return max(now + 1, min(state["next_attempt"], now + settings.check_interval))
    wake = now + settings.check_interval
    if cert is not None:
        wake = min(wake, cert.not_after - threshold(settings, cert))
    return max(now + 1, wake)


def _obtain(settings, heartbeat):
    """lego, once more with a new account when the CA no longer knows ours. (ok, output)."""
    log_path = Path(store.private_dir(settings.state_dir)) / "lego.log"
    store.private_dir(lego.storage(settings))
    ok, output = lego.run(settings, log_path, heartbeat)
    if not ok and lego.account_unknown(output):
        aside = lego.forget_account(settings)
        log(f"the certificate authority does not know this service's account any more: registering a new one "
            f"(old one kept in {aside})")
        ok, output = lego.run(settings, log_path, heartbeat)
    store.lock_down(lego.storage(settings))
    return ok, output


def _install(settings):
    """Copy lego's new pair into a release and make it live; returns the new Certificate."""
    crt, key = lego.files(settings)
    cert = certificate.read(crt)
    if cert is None or not certificate.key_matches(crt, key):
        raise RuntimeError(f"lego reported success but {crt} and {key} are not a matching pair")
    missing = set(settings.names) - set(cert.names)
    if missing:
        raise RuntimeError(f"the new certificate lacks {' '.join(sorted(missing))}")
    meta = {"names": list(settings.names), "directory": settings.directory, "challenge": settings.challenge,
            "issued_at": time.time(), "not_after": cert.not_after, "serial": cert.serial, "issuer": cert.issuer}
    store.install(settings.certs_dir, crt.read_bytes(), key.read_bytes(), meta)
    return cert


def attempt(settings, reason, heartbeat=None):
    """One renewal (the lock held by the caller): state, metrics and one log line. True if it worked."""
    started = time.time()
    log(f"renewing the certificate for {' '.join(settings.names)} from {settings.directory} "
        f"({settings.challenge}): {reason}")
    try:
        ok, output = _obtain(settings, heartbeat)
        cert = _install(settings) if ok else None
        error = "" if ok else lego.summary(output)
    except (OSError, RuntimeError) as problem:
        ok, cert, error = False, None, str(problem)
    ended = time.time()
    state = store.load_state(settings.state_dir)
    state.update(last_run=ended, last_duration=round(ended - started, 1), last_reason=reason)
    if ok:
        state.update(last_result=1, last_success=ended, failures=0, next_attempt=None, force=False, last_error="")
        log(f"new certificate installed in {ended - started:.1f} s: serial {cert.serial}, issuer {cert.issuer}, "
            f"expires {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(cert.not_after))}")
    else:
        failures = int(state.get("failures") or 0) + 1
        retry = backoff(settings, failures)
        state.update(last_result=0, failures=failures, next_attempt=ended + retry, last_error=error)
        log(f"renewal FAILED (attempt {failures}; the current certificate stays; next try in {retry} s): {error}")
    store.save_state(settings.state_dir, state)
    report(settings, state)
    return ok


def report(settings, state=None):
    """Write dfr_tls.prom from the live certificate and the state."""
    state = store.load_state(settings.state_dir) if state is None else state
    cert, _ = store.current(settings.certs_dir)
    try:
        metrics.write(settings, cert, state)
    except OSError as problem:
        log(f"cannot write {metrics.FILE} into the metrics folder: {problem}")


def tick(settings, heartbeat=None, now=None):
    """One look (the lock held by the caller): renew when due and allowed; returns the wake time."""
    now = time.time() if now is None else now
    state = store.load_state(settings.state_dir)
    cert, meta = store.current(settings.certs_dir)
    reason = due(settings, cert, meta, state, now)
    if reason and not (state.get("failures") and (state.get("next_attempt") or 0) > now):
        attempt(settings, reason, heartbeat)
        state = store.load_state(settings.state_dir)
        cert, _ = store.current(settings.certs_dir)
    else:
        report(settings, state)
    return wake_at(settings, cert, state, time.time())


def files_tick(settings):
    """Files mode: the mounted certificate's expiry into the metrics; returns the wake time."""
    cert = certificate.read(settings.files_cert) if Path(settings.files_cert).exists() else None
    if cert is None:
        log(f"cannot read the mounted certificate {settings.files_cert}: check TLS_FILES_DIR")
    try:
        metrics.write(settings, cert, {})
    except OSError as problem:
        log(f"cannot write {metrics.FILE} into the metrics folder: {problem}")
    return time.time() + min(FILES_INTERVAL, settings.check_interval)
