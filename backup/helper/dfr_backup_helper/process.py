"""Child processes: run one, or two as a pipe, and fail with one line on any non-zero exit.

A shell pipe reports only its last command's status, so pipelines are built here with both
exit codes checked; a child's own first error line is the cause given in the failure.
"""
import fcntl
import signal
import subprocess
import tempfile

CHUNK = 1 << 20
PIPE_SIZE = 1 << 20     # the most an unprivileged process may ask (fs.pipe-max-size)


class Failed(Exception):
    """A step failed: the message is the one line printed after `dfr-backup-helper: `."""


def describe(code):
    if code < 0:
        return f"was killed by signal {-code} ({signal.Signals(-code).name})"
    return f"exited with status {code}"


def human(size):
    """Bytes for people: 64.0 MiB."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"


def run(args, **kwargs):
    """Run a command; stderr passes through (it is the container's log); fail on non-zero."""
    result = subprocess.run(args, **kwargs)
    if result.returncode != 0:
        raise Failed(f"{args[0]} {describe(result.returncode)}")
    return result


def first_line(handle):
    """The first non-empty line a child wrote to a temporary error file, or ''."""
    handle.seek(0)
    said = handle.read().decode(errors="replace").strip().splitlines()
    return said[0] if said else ""


def pipeline(producer, consumer, what):
    """producer | consumer, both exit codes checked (a shell pipe would hide the first one).

    The producer's own error message comes first in the failure: it is the cause, the
    consumer's complaint (e.g. tar's "not a tar archive") only the consequence.
    """
    with tempfile.TemporaryFile() as errors:
        first = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=errors)
        second = subprocess.Popen(consumer, stdin=first.stdout, stderr=None)
        first.stdout.close()  # so the producer gets SIGPIPE if the consumer dies
        code2 = second.wait()
        code1 = first.wait()
        said = first_line(errors)
    if code1 != 0:
        raise Failed(f"{what}: {producer[0]}: {said or describe(code1)}")
    if code2 != 0:
        raise Failed(f"{what}: {consumer[0]} {describe(code2)}")


class Reader:
    """A child whose stdout this process reads (zstd -dc, age -d): its exit status and first
    error line are checked once the stream is read, so its failure is reported as the cause."""

    def __init__(self, args):
        self.args = args
        self._errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._errors)
        self.stdout = self.proc.stdout
        try:    # a bigger pipe: fewer, larger moves of a tar member into its file
            fcntl.fcntl(self.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except (OSError, AttributeError):
            pass

    def chunks(self, size=4 * CHUNK):
        return iter(lambda: self.stdout.read(size), b"")

    def kill(self):
        """Stop it (on a failure of ours); its status no longer matters."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.stdout.close()
        self.proc.wait()
        self._errors.close()

    def check(self, what):
        """Wait for it; Failed with its own first error line if it failed."""
        self.stdout.close()
        code = self.proc.wait()
        said = first_line(self._errors)
        self._errors.close()
        if code != 0:
            raise Failed(f"{what}: {self.args[0]}: {said or describe(code)}")
