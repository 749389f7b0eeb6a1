"""The filestore step's tar stream parser (backup/bin/dfr-backup-helper), on real GNU tar output."""
import hashlib
import importlib.machinery
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

HELPER = Path(__file__).resolve().parents[3] / "backup" / "bin" / "dfr-backup-helper"


def load_helper():
    loader = importlib.machinery.SourceFileLoader("dfr_backup_helper", str(HELPER))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


helper = load_helper()


def digests_of_tar(root, chunk):
    stream = subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], check=True,
                            capture_output=True).stdout
    parser = helper.TarDigests()
    for start in range(0, len(stream), chunk):
        parser.feed(stream[start:start + chunk])
    return parser


def expected_of(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=0, max_size=8),
       chunk=st.sampled_from([1, 7, 511, 512, 513, 4096, 1 << 20]))
def test_every_member_hashed_whatever_the_chunking(tmp_path_factory, sizes, chunk):
    root = tmp_path_factory.mktemp("filestore")
    for number, size in enumerate(sizes):
        data = os.urandom(size)
        folder = root / hashlib.sha1(data).hexdigest()[:2]
        folder.mkdir(exist_ok=True)
        (folder / f"{hashlib.sha1(data).hexdigest()}{number}").write_bytes(data)
    parser = digests_of_tar(root, chunk)
    assert parser.digests == expected_of(root)
    assert parser.bytes == sum(sizes)


def test_long_names_and_empty_files(tmp_path):
    deep = tmp_path / ("d" * 90) / ("e" * 90)
    deep.mkdir(parents=True)
    (deep / ("f" * 120)).write_bytes(b"long name")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "link").symlink_to("empty")       # not a regular file: not hashed
    assert digests_of_tar(tmp_path, 1000).digests == {
        str((deep / ("f" * 120)).relative_to(tmp_path)): hashlib.sha1(b"long name").hexdigest(),
        "empty": hashlib.sha1(b"").hexdigest()}


def test_a_damaged_header_is_refused(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100)
    stream = bytearray(subprocess.run(["tar", "-C", str(tmp_path), "-cf", "-", "a"], check=True,
                                      capture_output=True).stdout)
    stream[0] ^= 0x01
    with pytest.raises(helper.Failed, match="bad checksum"):
        helper.TarDigests().feed(bytes(stream))
