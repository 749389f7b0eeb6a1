"""The Debian base image every DFR image builds FROM.

Pulled when a registry is reachable; otherwise made with `debootstrap --variant=minbase` from a
Debian mirror and `docker import`ed under the same tag (the air-gapped mode).
"""
import os
import re
import shutil
import tempfile
from pathlib import Path

from plumbum import local
from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from .docker import check_engine, docker, image_exists
from .errors import DfrError
from .progress import say, step

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# Keep the imported image close to Docker's official "slim" variant.
DPKG_EXCLUDES = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""
APT_SLIM = """APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
"""


def suite_of(tag):
    """`debian:bookworm-slim` -> `bookworm`."""
    match = re.fullmatch(r"(?:[\w.\-/:]+/)?debian:([a-z]+)(?:-slim)?", tag)
    if not match:
        raise DfrError(f"cannot tell the Debian release of base image {tag!r}: use a tag like debian:bookworm-slim")
    return match.group(1)


def mirror_from_apt(sources=("/etc/apt/sources.list", "/etc/apt/sources.list.d"), suffix="/debian"):
    """The first Debian mirror (`suffix` /debian-security for the security one) in this
    machine's apt sources, else the default."""
    files = []
    for source in map(Path, sources):
        files += sorted(source.glob("*.list")) + sorted(source.glob("*.sources")) if source.is_dir() else [source]
    for path in files:
        if not path.exists():
            continue
        for uri in re.findall(r"(?:^deb\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(\S+)", path.read_text(), re.M):
            if uri.rstrip("/").endswith(suffix):
                return uri.rstrip("/")
    return DEFAULT_SECURITY_MIRROR if suffix == "/debian-security" else DEFAULT_MIRROR


def sources_list(suite, mirror, security_mirror):
    """What the official images carry: the release, its updates and its security fixes."""
    return (f"deb {mirror} {suite} main\n"
            f"deb {mirror} {suite}-updates main\n"
            f"deb {security_mirror} {suite}-security main\n")


def try_pull(tag, timeout=120):
    try:
        docker()["pull", tag].run(timeout=timeout)
        return True
    except (ProcessExecutionError, ProcessTimedOut):
        return False


def debootstrap_import(tag, mirror):
    if os.geteuid() != 0:
        raise DfrError("making the base image with debootstrap needs root: run `sudo .venv/bin/invoke img-base`")
    if not shutil.which("debootstrap"):
        raise DfrError("debootstrap is not installed: `sudo apt-get install debootstrap` (or run `bash setup.sh`)")
    suite = suite_of(tag)
    with tempfile.TemporaryDirectory(prefix="dfr-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        with step(1, 3, f"debootstrap --variant=minbase {suite} from {mirror}"):
            local["debootstrap"]["--variant=minbase", suite, str(root), mirror].run_fg()
        with step(2, 3, "slimming the root file system"):
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info"):
                for child in (root / junk).glob("*"):
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    elif child.name != "lock":
                        child.unlink()
            (root / "etc/dpkg/dpkg.cfg.d/docker-slim").write_text(DPKG_EXCLUDES)
            (root / "etc/apt/apt.conf.d/docker-slim").write_text(APT_SLIM)
            security = os.environ.get("DEBIAN_SECURITY_MIRROR") or mirror_from_apt(suffix="/debian-security")
            (root / "etc/apt/sources.list").write_text(sources_list(suite, mirror, security))
        with step(3, 3, f"docker import as {tag}"):
            pipeline = local["tar"]["-C", str(root), "-c", "."] | docker()["import", "--change", 'CMD ["bash"]', "-", tag]
            pipeline.run(timeout=1800)


def ensure(tag="debian:bookworm-slim", mirror=None, pull=True, force=False):
    """Make sure `tag` exists locally; returns how it was obtained."""
    check_engine()
    if image_exists(tag) and not force:
        say(f"base image {tag} is present")
        return "present"
    if pull and not force:
        say(f"pulling {tag} ...")
        if try_pull(tag):
            return "pulled"
        say(f"cannot pull {tag} (no registry reachable): building it with debootstrap")
    debootstrap_import(tag, mirror or os.environ.get("DEBIAN_MIRROR") or mirror_from_apt())
    return "debootstrap"
