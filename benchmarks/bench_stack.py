"""The throwaway production-like stack that backup.py and drill.py measure on (said once, so both
benchmarks run on the same settings and their figures can be compared).

Test images (the Odoo stand-in, real PostgreSQL 15), loopback ports, folders under `folder`;
the database gets 2 CPUs and 3 GB, as a small production server would give it.
"""
import secrets
import socket
from pathlib import Path

from dfr_deploy import base_image, environments, images, secrets as dfr_secrets
from dfr_deploy.commands import stack
from dfr_deploy.docker import image_exists

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = "dfr-test"   # the stand-in images the tests build; never the product's names


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def environment(folder, prefix, jobs, monitoring=True):
    """The environment of a new throwaway stack named `prefix`+random, its files under `folder`
    (monitoring: as production runs it; without, the stack has the shape it had before monitoring
    came, which the older benchmark figures were measured on)."""
    return environments.resolve("prod", overrides={"MONITORING": "true" if monitoring else "false",
        "PROJECT_NAME": f"{prefix}{secrets.token_hex(3)}", "IMAGE_REGISTRY": REGISTRY, "IMAGE_TAG": "prod",
        "PUBLISH_ADDRESS": "127.0.0.1", "NGINX_HTTP_PORT": free_port(), "NGINX_HTTPS_PORT": free_port(),
        "DFR_SECRETS_DIR": str(folder / "secrets"), "BACKUP_DIR": str(folder / "backups"),
        "METRICS_DIR": str(folder / "metrics"), "BACKUP_JOBS": str(jobs), "DB_CPUS": "2", "DB_MEMORY": "3g",
        "ODOO_CPUS": "1", "ODOO_MEMORY": "1g", "POSTGRES_SHARED_BUFFERS": "512MB",
        "POSTGRES_MAINTENANCE_WORK_MEM": "256MB", "POSTGRES_MAX_WAL_SIZE": "4GB", "HEALTH_INTERVAL": "2s",
    })


def start(env):
    """Build the images still missing (with the stand-in), generate the secrets, deploy."""
    base_image.ensure()
    missing = [s for s in images.SERVICES if not image_exists(env.image(s))]
    if missing:
        images.build(env, missing, odoo_source=str(ROOT / "tests" / "fixtures" / "odoo-standin"))
    dfr_secrets.generate(env)
    stack.deploy(env, timeout=600)
