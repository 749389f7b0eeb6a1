#!/usr/bin/env python3
"""Benchmark the images and the deploy (figures, not pass/fail).

Prints, for the Odoo source given (default: the test stand-in, since Odoo's own source cannot
be downloaded everywhere; pass --odoo-source for the real one):
  * each image's size, and the Odoo image against the 700 MB target and the 1 GB limit;
  * cold build time of each image (--no-cache; the Debian base image is reused);
  * rebuild time of the Odoo image after editing one file of a private addon, and its ratio
    to the cold build;
  * deploy-to-healthy time of the development stack from nothing.
Works on a throwaway copy of the project and a throwaway compose project; removes them.
"""
import argparse
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dfr_deploy import base_image, environments, images  # noqa: E402
from dfr_deploy.commands import stack  # noqa: E402
from dfr_deploy.docker import compose, docker  # noqa: E402

MB = 1000 * 1000


def copy_project(target):
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def timed(function, *args, **kwargs):
    started = time.monotonic()
    function(*args, **kwargs)
    return time.monotonic() - started


def size(tag):
    return int(docker()["image", "inspect", "-f", "{{.Size}}", tag]().strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--odoo-source", default=str(ROOT / "tests/fixtures/odoo-standin"),
                        help="Odoo source tree, archive or URL (default: the test stand-in)")
    parser.add_argument("--skip-cold", action="store_true", help="skip the --no-cache builds")
    args = parser.parse_args()
    base_image.ensure()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dfr-bench-") as tmp:
        project = Path(tmp) / "project"
        copy_project(project)
        overrides = {"IMAGE_REGISTRY": "dfr-bench", "IMAGE_TAG": "devel", "ODOO_SOURCE": args.odoo_source,
                     "PROJECT_NAME": f"dfrbench{secrets.token_hex(2)}", "DFR_SECRETS_DIR": str(Path(tmp) / "secrets"),
                     "HEALTH_INTERVAL": "2s",
                     **{key: free_port() for key in ("NGINX_HTTP_PORT", "NGINX_HTTPS_PORT", "ODOO_PUBLISHED_PORT",
                                                     "DB_PUBLISHED_PORT", "DEBUGPY_PUBLISHED_PORT")}}
        env = environments.resolve("devel", root=project, overrides=overrides)
        cold = {}
        for service in images.SERVICES:
            if args.skip_cold:
                images.build(env, (service,))
            else:
                cold[service] = timed(images.build, env, (service,), no_cache=True)
        addon = project / "odoo/custom/src/private/dfr_bench_probe"
        addon.mkdir(parents=True)
        (addon / "__init__.py").write_text("")
        (addon / "__manifest__.py").write_text("{'name': 'bench probe', 'version': '18.0.1.0.0', 'depends': ['base']}\n")
        images.build(env, ("odoo",))  # warm cache with the addon present
        (addon / "__init__.py").write_text("# edited\n")
        rebuild = timed(images.build, env, ("odoo",))
        try:
            deploy = timed(stack.deploy, env, timeout=600)
        finally:
            compose(env)["down", "--volumes", "--remove-orphans"].run(retcode=None)
        for service in images.SERVICES:
            rows.append((service, size(env.image(service)), cold.get(service)))
    print("\n== DFR image benchmark ==")
    print(f"odoo source: {args.odoo_source}")
    print(f"{'image':10} {'size MB':>9} {'cold build s':>13}")
    for service, bytes_, seconds in rows:
        print(f"{service:10} {bytes_ / MB:9.0f} {seconds if seconds is not None else float('nan'):13.1f}")
    odoo_size = dict((r[0], r[1]) for r in rows)["odoo"]
    print(f"odoo image / 700 MB target: {odoo_size / (700 * MB):.2f}   / 1 GB limit: {odoo_size / (1000 * MB):.2f}")
    if cold:
        print(f"odoo rebuild after editing one private addon file: {rebuild:.1f} s "
              f"({rebuild / cold['odoo']:.3f} of the cold build)")
    else:
        print(f"odoo rebuild after editing one private addon file: {rebuild:.1f} s")
    print(f"deploy devel from nothing to healthy: {deploy:.1f} s")


if __name__ == "__main__":
    main()
