"""Failure injection for the fault tests: DFR_TEST_KILL_AT=<point> makes the process die right
there, like a power cut (SIGKILL: no clean-up runs), so the tests can prove that the next
operation puts everything right. Unset in real use; the points are named where they are."""
import os
import sys

from .progress import say


def kill_point(name):
    if os.environ.get("DFR_TEST_KILL_AT") == name:
        say(f"DFR_TEST_KILL_AT={name}: killing this process now")
        sys.stdout.flush()
        os.kill(os.getpid(), 9)
