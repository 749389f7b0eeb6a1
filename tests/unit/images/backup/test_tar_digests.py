"""The filestore step's tar stream parser (dfr_backup_helper.tarstream) and the unpacker's hard links
from a live filestore (unpack_tar), on real GNU tar output."""
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from dfr_backup_helper.process import Failed
from dfr_backup_helper.tarstream import TarDigests
from dfr_backup_helper.unpack import unpacking
from dfr_backup_helper.unpack_tar import TarUnpack


def digests_of_tar(root, chunk):
    stream = subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], check=True,
                            capture_output=True).stdout
    parser = TarDigests()
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
    with pytest.raises(Failed, match="bad checksum"):
        TarDigests().feed(bytes(stream))


def sha1_tree(root):
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in Path(root).rglob("*") if p.is_file()}


def test_restore_links_identical_files_and_writes_the_rest(tmp_path):
    """The archive is the truth: identical live files are hard-linked, anything else (missing,
    another size, same size but other bytes, bytes differing only in the last block) written."""
    archived = tmp_path / "archived"
    files = {f"{n:02x}/file{n}": os.urandom(700 + n * 5000) for n in range(6)}
    files["00/empty"] = b""
    for name, data in files.items():
        (archived / name).parent.mkdir(parents=True, exist_ok=True)
        (archived / name).write_bytes(data)
    live = tmp_path / "live"
    shutil.copytree(archived, live)
    (live / "01/file1").unlink()                                       # missing
    (live / "02/file2").write_bytes(files["02/file2"] + b"x")           # another size
    rotten = bytearray(files["03/file3"]); rotten[100] ^= 1
    (live / "03/file3").write_bytes(bytes(rotten))                      # same size, early difference
    tail = bytearray(files["04/file4"]); tail[-1] ^= 1
    (live / "04/file4").write_bytes(bytes(tail))                        # same size, last byte differs
    (live / "99").mkdir(); (live / "99/extra").write_bytes(b"created after the backup")
    stream = subprocess.run(["tar", "--numeric-owner", "-C", str(archived), "-cf", "-", "."], check=True,
                            capture_output=True).stdout
    dest = tmp_path / "restored"
    with unpacking(str(dest), 0o644, 0o755) as writer:
        unpack = TarUnpack(writer, str(live))
        for start in range(0, len(stream), 3000):
            unpack.feed(stream[start:start + 3000])
    assert unpack.complete
    assert sha1_tree(dest) == sha1_tree(archived)                      # exactly the archive, no extra
    linked = {n for n in files if (live / n).exists() and (dest / n).stat().st_ino == (live / n).stat().st_ino}
    assert linked == {"00/file0", "05/file5", "00/empty"}
    assert writer.linked == 3 and len(writer.written) == 4
    assert (live / "03/file3").read_bytes() == bytes(rotten)           # the live copy is left alone


def test_restore_refuses_paths_outside_the_folder(tmp_path):
    (tmp_path / "a").write_bytes(b"data")
    stream = subprocess.run(["tar", "-C", str(tmp_path), "-P", "--transform=s,^a,../evil,", "-cf", "-", "a"],
                            check=True, capture_output=True).stdout
    dest = tmp_path / "restored"
    with pytest.raises(Failed, match="unsafe path"):
        with unpacking(str(dest), 0o644, 0o755) as writer:
            TarUnpack(writer).feed(stream)
    assert not (tmp_path / "evil").exists() and not dest.exists()
