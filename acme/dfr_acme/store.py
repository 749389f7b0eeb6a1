"""The service's files: the certificate volume nginx reads, and its own state.

Certificate volume (CERTS, mounted read-only in nginx):
    releases/<time>-<serial>/fullchain.pem, privkey.pem, meta.json   (0600, folders 0700)
    live -> releases/<newest>     a relative symlink, replaced by rename(2): nginx's watcher sees
                                  either the old pair or the new one, never half of one
State volume (STATE, the acme service only): lego's account key and files (lego/), state.json,
the last lego output (lego.log), the lock that keeps two renewals from running at once.
Everything is written as root with modes 0600/0700: nginx's master (root) reads the pair, its
workers (www-data) cannot.
"""
import contextlib
import fcntl
import json
import os
import shutil
import time
from pathlib import Path

from . import certificate

KEEP_RELEASES = 3


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, data, mode=0o600):
    """Write path atomically (temp file, fsync, rename, fsync of the folder)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data if isinstance(data, bytes) else data.encode())
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def private_dir(path):
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def lock_down(root):
    """Folders 0700 and files 0600 under root (lego's account key and certificates)."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o700)
        for name in files:
            target = os.path.join(folder, name)
            if not os.path.islink(target):
                os.chmod(target, 0o600)


# --- the certificate volume -------------------------------------------------------------------

def live(certs_dir):
    return Path(certs_dir) / "live"


def current(certs_dir):
    """(Certificate, meta) of the live pair, or (None, {}) when there is none or it is unreadable."""
    folder = live(certs_dir)
    cert = certificate.read(folder / "fullchain.pem") if (folder / "fullchain.pem").exists() else None
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        meta = {}
    return cert, (meta if isinstance(meta, dict) else {})


def install(certs_dir, fullchain, key, meta):
    """A new release with the pair and its meta, then `live` swapped to it; returns its folder."""
    certs_dir = private_dir(certs_dir)
    releases = private_dir(certs_dir / "releases")
    name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + (meta.get("serial", "")[:12] or "x")
    final = releases / name
    staging = releases / f".new-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    private_dir(staging)
    write_file(staging / "fullchain.pem", fullchain)
    write_file(staging / "privkey.pem", key)
    write_file(staging / "meta.json", json.dumps(meta, indent=1, sort_keys=True) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    _fsync_dir(releases)
    link = certs_dir / ".live.new"
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    os.symlink(f"releases/{name}", link)
    os.replace(link, live(certs_dir))
    _fsync_dir(certs_dir)
    prune(certs_dir)
    return final


def prune(certs_dir, keep=KEEP_RELEASES):
    """Keep the newest releases (and always the live one); leftovers of interrupted installs go."""
    releases = Path(certs_dir) / "releases"
    if not releases.is_dir():
        return
    target = os.path.realpath(live(certs_dir))
    names = sorted((p for p in releases.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in names[:-keep]:
        if os.path.realpath(old) != target:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in releases.glob(".new-*"):
        shutil.rmtree(leftover, ignore_errors=True)


# --- the state volume -------------------------------------------------------------------------

def load_state(state_dir):
    try:
        state = json.loads((Path(state_dir) / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def save_state(state_dir, state):
    write_file(Path(private_dir(state_dir)) / "state.json", json.dumps(state, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def locked(state_dir, wait=None):
    """The renewal lock (flock): the loop and `dfr-acme renew` never run lego at the same time.
    wait=None blocks; else TimeoutError after `wait` seconds."""
    path = Path(private_dir(state_dir)) / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"another renewal still runs after {wait} s") from None
                    time.sleep(1)
        yield
    finally:
        os.close(fd)
