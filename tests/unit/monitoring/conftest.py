"""The monitoring layer in the fast tier: its Python package imported from monitoring/ (the
standard library only), and its image built once per session from monitoring/Dockerfile (the
layer cache makes that seconds when nothing changed) to run Debian's own promtool, amtool,
mtail and the mail catcher. A missing Docker engine or base image fails, it does not skip.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "monitoring"
IMAGE = "dfr-test/monitoring:unit"
BASE = "debian:bookworm-slim"
# Containers the tests start are named with this prefix and removed by the tests.
PREFIX = "dfrh3"

os.environ.setdefault("DFR_MONITORING_SHARE", str(MONITORING))
if str(MONITORING) not in sys.path:
    sys.path.insert(0, str(MONITORING))


def docker(*args, timeout=300, stdin=None):
    """`docker ARGS` -> CompletedProcess (text); never raises on a non-zero exit."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, input=stdin)


@pytest.fixture(scope="session")
def image():
    from dfr_deploy.docker import legacy_build_env

    if docker("info", "--format", "{{.ServerVersion}}", timeout=60).returncode != 0:
        pytest.fail("the monitoring tests need a Docker engine: start it (sudo systemctl start docker)")
    if docker("image", "inspect", BASE, timeout=60).returncode != 0:
        pytest.fail(f"base image {BASE} is missing: run `invoke img-base` first")
    built = subprocess.run(["docker", "build", "--pull=false", "-q", "-t", IMAGE, str(MONITORING)],
                           capture_output=True, text=True, timeout=1800, env={**os.environ, **legacy_build_env()})
    assert built.returncode == 0, f"building {IMAGE} failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    return IMAGE


def run_tool(image, *args, env=None, volumes=(), entrypoint=None, timeout=300):
    """One locked-down container of the image (as the layer runs them) -> CompletedProcess."""
    command = ["run", "--rm", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges:true", "--network", "none"]
    for key, value in (env or {}).items():
        command += ["-e", f"{key}={value}"]
    for source, target in volumes:
        command += ["-v", f"{source}:{target}:ro"]
    if entrypoint:
        command += ["--entrypoint", entrypoint]
    return docker(*command, image, *args, timeout=timeout)
