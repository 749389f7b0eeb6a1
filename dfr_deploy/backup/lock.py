"""One backup/restore/prune/PITR operation at a time per environment.

An flock(2) on `<BACKUP_DIR>/.lock`: the kernel releases it when the holder dies (kill -9,
reboot), so a lock can never be left stale. The file's content says who holds it (pid, host,
operation, since) so a second operation can tell the user whom it is waiting for.
"""
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import Busy

LOCK_NAME = ".lock"


def holder(folder):
    """Who holds (or last held) the lock of a backup folder, as a dict, or None."""
    try:
        return json.loads((Path(folder) / LOCK_NAME).read_text() or "null")
    except (OSError, ValueError):
        return None


def describe(info):
    if not info:
        return "another process (it did not say who)"
    return (f"{info.get('operation', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
            f"since {info.get('since', '?')})")


@contextmanager
def held(folder, operation, env_name="", wait=0.0):
    """Hold the lock of `folder` for `operation`, or raise a DfrError naming the holder.

    `wait`: seconds to keep trying (0 = fail at once).
    """
    path = Path(folder) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    who = describe(holder(folder))
                    where = f" of {env_name}" if env_name else ""
                    waited = f" (waited {wait:.0f} s)" if wait else ""
                    raise Busy(f"another backup operation{where} is running: {who}{waited}; "
                               "wait for it to finish and retry") from None
                time.sleep(0.2)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "operation": operation,
                "since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        try:
            yield info
        finally:
            os.ftruncate(fd, 0)  # released: nobody holds it
    finally:
        os.close(fd)  # closing the descriptor releases the flock
