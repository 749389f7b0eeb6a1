"""manifest.json: what a backup set holds and how to check it has not changed.

It carries Odoo's own manifest keys (`odoo_dump`, `db_name`, `version`, `version_info`,
`major_version`, `pg_version`, `modules`) so Odoo's tools recognise the set, plus ours: format
and method, tool version, environment, start/end time, sizes, and a SHA-256 per file. Sets
made by later methods (PITR base backups) use the same file with another `method`.
"""
import concurrent.futures
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__, durable
from ..errors import DfrError

NAME = "manifest.json"
FORMAT = "dfr-backup"
FORMAT_VERSION = 1
# Files in a set folder that are not part of the checked content (written after publishing).
SIDECARS = {NAME, "offsite.json", "drill.json"}
ODOO_KEYS = ("odoo_dump", "db_name", "version", "version_info", "major_version", "pg_version", "modules")
REQUIRED = ("format", "format_version", "method", "tool", "started_at", "finished_at", "files",
            "db_name", "major_version", "pg_version")
CHUNK = 1 << 20


def now():
    return datetime.now(timezone.utc)


def iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text):
    """manifest time -> aware datetime (accepts with or without fractions)."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except (TypeError, ValueError):
            continue
    raise DfrError(f"bad time {text!r} in a manifest: the set was not written by this tool")


def new(method, env, started):
    """The manifest skeleton of a set being made."""
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "method": method,
        "tool": {"name": "dfr-deploy", "version": __version__},
        "environment": env.name, "project": env.project_name,
        "started_at": iso(started),
    }


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def content_files(root):
    """Relative paths of every file of a set, sidecars excluded, sorted."""
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root):
        for name in files:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if relative not in SIDECARS:
                found.append(relative)
    return sorted(found)


def hash_files(root, jobs=2):
    """{relative path: {size, sha256}} of every content file (hashlib releases the GIL)."""
    root = Path(root)
    names = content_files(root)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        digests = list(pool.map(lambda n: sha256_file(root / n), names))
    return {n: {"size": (root / n).stat().st_size, "sha256": d} for n, d in zip(names, digests)}


def write(folder, data):
    """Write manifest.json durably (it then belongs to the folder's owner: the tools' user)."""
    folder = Path(folder)
    st = folder.stat()
    durable.write_atomic(folder / NAME, json.dumps(data, indent=2, sort_keys=True) + "\n",
                         owner=(st.st_uid, st.st_gid))


def load(folder):
    """The manifest of a set, or a DfrError saying why it is not one of ours."""
    path = Path(folder) / NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DfrError(f"{folder} has no {NAME}: it is not a backup set of this tool") from None
    except (OSError, ValueError) as error:
        raise DfrError(f"{path} cannot be read as JSON ({error}): the set is damaged; use another set") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DfrError(f"{path} is not a dfr-backup manifest: give a set made by `invoke backup`")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise DfrError(f"{path} lacks {', '.join(missing)}: the set is incomplete; use another set")
    if int(data["format_version"]) > FORMAT_VERSION:
        raise DfrError(f"{path} has format version {data['format_version']}, newer than this tool "
                       f"({FORMAT_VERSION}): upgrade dfr-deploy to restore it")
    parse_time(data["started_at"])
    return data


def problems(folder, data, jobs=2):
    """What differs between a set folder and its manifest (empty list = intact)."""
    folder = Path(folder)
    expected = data.get("files") or {}
    found = set(content_files(folder))
    issues = [f"{name} is missing" for name in sorted(set(expected) - found)]
    issues += [f"{name} is not listed in the manifest" for name in sorted(found - set(expected))]
    present = sorted(set(expected) & found)

    def check(name):
        path = folder / name
        size = path.stat().st_size
        if size != expected[name]["size"]:
            return f"{name} has {size} bytes instead of {expected[name]['size']} (truncated or damaged)"
        if sha256_file(path) != expected[name]["sha256"]:
            return f"{name} does not match its SHA-256 (damaged)"
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        issues += [p for p in pool.map(check, present) if p]
    return issues


def verify(folder, jobs=2):
    """Load and check a set; returns the manifest or raises a DfrError with the first problem."""
    data = load(folder)
    check(folder, data, jobs)
    return data


def check(folder, data, jobs=2):
    """Every file of the set against the manifest `data` already loaded (a DfrError if not)."""
    issues = problems(folder, data, jobs)
    if issues:
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise DfrError(f"backup set {Path(folder).name} is damaged: {issues[0]}{more}; "
                       "nothing was changed - restore another set (`invoke backups` lists them)")


def load_sidecar(path):
    """A set's JSON sidecar (offsite.json, drill.json), or None."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_sidecar(path, data):
    """Written durably, owned like the set folder (the tools' user)."""
    path = Path(path)
    st = path.parent.stat()
    durable.write_atomic(path, json.dumps(data, indent=2) + "\n", owner=(st.st_uid, st.st_gid))
