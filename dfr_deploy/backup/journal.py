"""Swap journals: a small JSON file, written durably (durable.write_atomic), that says how far a
restore got, so that an interrupted one is put right by the next operation (repair.py)."""
import json

from .. import durable


def path(folder, name):
    return folder / name


def read(folder, name):
    """The journal's state, or None when there is none."""
    target = path(folder, name)
    return json.loads(target.read_text()) if target.exists() else None


def write(folder, name, data):
    durable.write_atomic(path(folder, name), json.dumps(data))


def remove(folder, name):
    path(folder, name).unlink(missing_ok=True)
