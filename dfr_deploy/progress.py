"""Progress lines for long operations: which step, how far, how long."""
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path


def say(message):
    print(message, file=sys.stderr, flush=True)


def elapsed(since):
    seconds = int(time.monotonic() - since)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def human(size):
    """Bytes as people read them (binary units, one decimal)."""
    size = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def tree_size(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


@contextmanager
def step(number, total, title):
    """Print `[n/total] title`, then `done in Xs` or `failed after Xs`."""
    started = time.monotonic()
    say(f"[{number}/{total}] {title} ...")
    try:
        yield started
    except BaseException:
        say(f"[{number}/{total}] {title}: failed after {elapsed(started)}")
        raise
    say(f"[{number}/{total}] {title}: done in {elapsed(started)}")


@contextmanager
def ticker(path, label, every=10.0):
    """While a long step runs, say every `every` seconds how long it has run and, when `path`
    is given, how many bytes it has written there so far."""
    stop = threading.Event()
    started = time.monotonic()

    def tick():
        while not stop.wait(every):
            if path and Path(path).exists():
                say(f"      {label}: {human(tree_size(path))} written, {elapsed(started)} elapsed")
            else:
                say(f"      {label}: {elapsed(started)} elapsed")

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
