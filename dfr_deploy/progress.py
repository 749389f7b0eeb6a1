"""Progress lines for long operations: which step, how far, how long."""
import sys
import time
from contextlib import contextmanager


def say(message):
    print(message, file=sys.stderr, flush=True)


def elapsed(since):
    seconds = int(time.monotonic() - since)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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
