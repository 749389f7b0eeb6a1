"""The safe unpacker (dfr_backup_helper.unpack) against hostile archives built here: each one is
refused with one line, DEST is removed, and nothing is written outside it."""
import io
import os
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from dfr_backup_helper import cli
from dfr_backup_helper.process import Failed
from dfr_backup_helper.unpack import Space, relative_name


def tar_bytes(members, fmt=tarfile.GNU_FORMAT):
    """A tar of (TarInfo fields, data) members, exactly as given (no safety of tarfile's own)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for fields, data in members:
            info = tarfile.TarInfo(fields.pop("name"))
            for key, value in fields.items():
                setattr(info, key, value)
            info.size = len(data) if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            archive.addfile(info, io.BytesIO(data) if info.size else None)
    return out.getvalue()


def zstd_file(path, data):
    subprocess.run(["zstd", "-q", "-c"], input=data, stdout=open(path, "wb"), check=True)
    return str(path)


def restore(archive, dest, *extra):
    """Run the restore-filestore subcommand; (exit message or None, JSON printed or None)."""
    try:
        cli.main(["restore-filestore", "--archive", str(archive), "--dest", str(dest), *extra])
    except SystemExit as stop:
        return str(stop.code), None
    return None, True


def tree(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*"))


GOOD = ({"name": "ab/good", "mode": 0o644}, b"good")


@pytest.mark.parametrize("member, reason", [
    ({"name": "ab/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "symbolic link"),
    ({"name": "ab/hard", "type": tarfile.LNKTYPE, "linkname": "ab/good"}, "hard link"),
    ({"name": "ab/chr", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, "character device"),
    ({"name": "ab/blk", "type": tarfile.BLKTYPE, "devmajor": 8, "devminor": 0}, "block device"),
    ({"name": "ab/fifo", "type": tarfile.FIFOTYPE}, "FIFO"),
    ({"name": "../x", "mode": 0o644}, "unsafe path"),
    ({"name": "/etc/x", "mode": 0o644}, "unsafe path"),
    ({"name": "a/../../x", "mode": 0o644}, "unsafe path"),
    ({"name": ".", "mode": 0o644}, "a file named '.'"),
    ({"name": "ab/good", "mode": 0o644}, "twice"),
])
def test_hostile_tar_members_are_refused_and_dest_removed(tmp_path, member, reason):
    work = tmp_path / "work"
    work.mkdir()
    archive = zstd_file(tmp_path / "fs.tar.zst", tar_bytes([(dict(GOOD[0]), GOOD[1]), (member, b"x")]))
    before = tree(tmp_path)
    message, done = restore(archive, work / "dest")
    assert done is None and message.startswith("dfr-backup-helper: ") and "\n" not in message
    assert reason in message and message.endswith("nothing was restored"), message
    assert not (work / "dest").exists()
    assert tree(tmp_path) == before                       # nothing left, nothing written elsewhere
    assert not (tmp_path / "x").exists()


def test_pax_headers_are_refused(tmp_path):
    archive = zstd_file(tmp_path / "fs.tar.zst", tar_bytes([({"name": "ab/" + "p" * 120}, b"data")],
                                                          fmt=tarfile.PAX_FORMAT))
    message, _ = restore(archive, tmp_path / "dest")
    assert "pax headers" in message and not (tmp_path / "dest").exists()


def test_a_truncated_stream_is_refused(tmp_path):
    data = tar_bytes([({"name": "ab/big"}, os.urandom(50000))])
    archive = zstd_file(tmp_path / "fs.tar.zst", data[:30000])
    message, _ = restore(archive, tmp_path / "dest")
    assert "truncated" in message and not (tmp_path / "dest").exists()


def test_modes_are_normalised_and_owners_not_kept(tmp_path):
    archive = zstd_file(tmp_path / "fs.tar.zst", tar_bytes([
        ({"name": "ab", "type": tarfile.DIRTYPE, "mode": 0o7777}, b""),
        ({"name": "ab/suid", "mode": 0o4777, "uid": 0, "gid": 0}, b"#!/bin/sh\n"),
        ({"name": "ab/sticky", "mode": 0o1666}, b"x")]))
    message, done = restore(archive, tmp_path / "dest")
    assert message is None and done
    dest = tmp_path / "dest"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755 and stat.S_IMODE((dest / "ab").stat().st_mode) == 0o755
    assert {stat.S_IMODE((dest / "ab" / n).stat().st_mode) for n in ("suid", "sticky")} == {0o644}
    assert (dest / "ab/suid").stat().st_uid == os.getuid()


def test_gnu_tar_output_with_long_names_unpacks(tmp_path):
    src = tmp_path / "src" / ("d" * 90) / ("e" * 90)
    src.mkdir(parents=True)
    (src / ("f" * 120)).write_bytes(b"long")
    stream = subprocess.run(["tar", "--numeric-owner", "-C", str(tmp_path / "src"), "-cf", "-", "."],
                            check=True, capture_output=True).stdout
    message, done = restore(zstd_file(tmp_path / "fs.tar.zst", stream), tmp_path / "dest")
    assert message is None
    assert (tmp_path / "dest" / ("d" * 90) / ("e" * 90) / ("f" * 120)).read_bytes() == b"long"


def zip_file(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return str(path)


@pytest.mark.parametrize("name, mode, reason", [
    ("filestore/ab/link", stat.S_IFLNK | 0o777, "link or special file"),
    ("filestore/../../x", stat.S_IFREG | 0o644, "unsafe path"),
    ("filestore//etc/x", stat.S_IFREG | 0o644, "unsafe path"),
    ("filestore/ab/fifo", stat.S_IFIFO | 0o644, "link or special file"),
])
def test_hostile_zip_members_are_refused(tmp_path, name, mode, reason):
    archive = zip_file(tmp_path / "odoo.zip", [("dump.sql", b"SELECT 1;", stat.S_IFREG | 0o644),
                                               ("filestore/ab/good", b"good", stat.S_IFREG | 0o644),
                                               (name, b"/etc/passwd", mode)])
    message, _ = restore(archive, tmp_path / "dest")
    assert reason in message and message.endswith("nothing was restored"), message
    assert not (tmp_path / "dest").exists() and not (tmp_path / "x").exists()


def test_an_odoo_zip_filestore_unpacks_with_normal_modes(tmp_path):
    archive = zip_file(tmp_path / "odoo.zip", [("dump.sql", b"SELECT 1;", stat.S_IFREG | 0o644),
                                               ("filestore/ab/abc", b"file", stat.S_IFREG | 0o4777)])
    assert restore(archive, tmp_path / "dest") == (None, True)
    assert tree(tmp_path / "dest") == ["ab", "ab/abc"]
    assert stat.S_IMODE((tmp_path / "dest/ab/abc").stat().st_mode) == 0o644


def fake_statvfs(free):
    return lambda path: SimpleNamespace(f_bavail=free // 4096, f_frsize=4096)


def test_the_budget_counts_what_is_written_against_the_real_free_space():
    space = Space("/x", reserve=1 << 20, statvfs=fake_statvfs(3 << 20))
    space.take(1 << 20)
    with pytest.raises(Failed, match=r"would leave less than 1.0 MiB free on the file system of /x"):
        space.take((1 << 20) + 1)
    with pytest.raises(Failed):
        Space("/x", reserve=1 << 20, statvfs=fake_statvfs(1 << 19)).take(1)


def test_an_archive_expanding_past_a_small_tmpfs_is_stopped_in_time(tmp_path):
    """An archive of 24 MiB of zeros (a few KiB compressed) into an 8 MiB tmpfs keeping 2 MiB free:
    stopped before the reserve is touched, DEST removed, the space back."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        archive = zstd_file(tmp_path / "bomb.tar.zst", tar_bytes(
            [({"name": f"ab/zero{n}"}, bytes(4 << 20)) for n in range(6)]))
        assert os.path.getsize(archive) < 64 << 10
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        message, _ = restore(archive, mount / "dest", "--reserve-bytes", str(2 << 20))
        assert "would leave less than 2.0 MiB free" in message and message.endswith("nothing was restored")
        assert not (mount / "dest").exists()
        assert os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize == free
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_names_are_made_relative_or_refused():
    assert relative_name("./ab/./cd") == "ab/cd" and relative_name("") == "" and relative_name("./") == ""
    for bad in ("/abs", "..", "a/../../b", "a/..", "x\0y"):
        with pytest.raises(Failed):
            relative_name(bad)


@pytest.mark.parametrize("splice", ["kernel", "refused"])
def test_members_larger_than_a_pipe_arrive_byte_exact_spliced_or_not(tmp_path, monkeypatch, splice):
    """Member data moves pipe-to-file with os.splice; where a file system refuses that (EINVAL)
    it goes through write() instead. Either way every byte arrives, in order."""
    if splice == "refused":
        def refuse(*args):
            raise OSError(22, "Invalid argument")
        monkeypatch.setattr(os, "splice", refuse, raising=False)
    members = [({"name": "ab/big"}, os.urandom(5 << 20) + b"end"), ({"name": "ab/empty"}, b""),
               ({"name": "cd/small"}, b"x" * 1000)]
    archive = zstd_file(tmp_path / "fs.tar.zst", tar_bytes([(dict(f), d) for f, d in members]))
    message, done = restore(archive, tmp_path / "dest")
    assert message is None and done
    for fields, data in members:
        assert (tmp_path / "dest" / fields["name"]).read_bytes() == data
