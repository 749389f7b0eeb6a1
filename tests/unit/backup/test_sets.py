"""Manifest, publish, lock and format detection on real files (no containers)."""
import json
import multiprocessing
import os
import zipfile

import pytest

from dfr_deploy import environments
from dfr_deploy.backup import formats, listing, lock, manifest, publish
from dfr_deploy.errors import DfrError


@pytest.fixture
def env():
    return environments.resolve("devel")


def make_set(folder, env, name="dfr-devel-20250101T000000Z", payload=b"x" * 5000):
    tmp = publish.temp_dir(folder, name)
    (tmp / "db").mkdir()
    (tmp / "db" / "toc.dat").write_bytes(b"PGDMP toc")
    (tmp / "db" / "3001.dat.zst").write_bytes(payload)
    (tmp / "filestore.tar.zst").write_bytes(b"fs" * 100)
    data = manifest.new("logical", env, manifest.now())
    data.update(finished_at=manifest.iso(manifest.now()), db_name="dfr", major_version="18.0", pg_version="15.8",
                version="18.0", odoo_dump="1", modules={"base": "18.0.1.3"}, verified=True)
    data["files"] = manifest.hash_files(tmp)
    manifest.write(tmp, data)
    publish.publish(tmp, folder / name)
    return folder / name


def test_published_set_verifies_and_leaves_no_temp(tmp_path, env):
    path = make_set(tmp_path, env)
    assert manifest.verify(path)["files"]["db/3001.dat.zst"]["size"] == 5000
    assert publish.leftovers(tmp_path) == []
    assert [e.name for e in listing.sets(tmp_path)] == [path.name]


def test_one_flipped_byte_is_found(tmp_path, env):
    path = make_set(tmp_path, env)
    target = path / "db" / "3001.dat.zst"
    data = bytearray(target.read_bytes())
    data[1234] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(DfrError, match=r"3001.dat.zst does not match its SHA-256"):
        manifest.verify(path)
    assert not listing.sets(tmp_path, full=True)[0].verified


def test_truncated_file_is_found(tmp_path, env):
    path = make_set(tmp_path, env)
    with open(path / "filestore.tar.zst", "r+b") as handle:
        handle.truncate(10)
    with pytest.raises(DfrError, match=r"filestore.tar.zst has 10 bytes instead of 200"):
        manifest.verify(path)
    assert "wrong size" in listing.sets(tmp_path)[0].problem


def test_missing_and_extra_files_are_found(tmp_path, env):
    path = make_set(tmp_path, env)
    (path / "db" / "toc.dat").unlink()
    (path / "stray").write_text("x")
    problems = manifest.problems(path, manifest.load(path))
    assert "db/toc.dat is missing" in problems and "stray is not listed in the manifest" in problems


def test_publish_refuses_a_damaged_temp_set_and_an_existing_name(tmp_path, env):
    path = make_set(tmp_path, env)
    tmp = publish.temp_dir(tmp_path, "again")
    (tmp / "a").write_text("a")
    data = dict(manifest.load(path), files=manifest.hash_files(tmp))
    manifest.write(tmp, data)
    (tmp / "a").write_text("b")  # changed after hashing
    with pytest.raises(DfrError, match="damaged"):
        publish.publish(tmp, tmp_path / "again-final")
    assert not (tmp_path / "again-final").exists()
    (tmp / "a").write_text("a")
    with pytest.raises(DfrError, match="already exists"):
        publish.publish(tmp, path)
    assert manifest.verify(path)


def test_a_restore_may_leave_the_files_of_a_set_to_check_while_it_loads(tmp_path, env):
    path = make_set(tmp_path, env)
    with open(path / "db" / "3001.dat.zst", "r+b") as handle:
        handle.write(b"y")
    with pytest.raises(DfrError, match="3001.dat.zst does not match its SHA-256"):
        formats.detect(path)
    source = formats.detect(path, check_set=False)     # the manifest only: read and checked
    assert (source.kind, source.checked, source.major_version) == ("set", False, "18.0")
    with pytest.raises(DfrError, match="is damaged: db/3001.dat.zst does not match its SHA-256"):
        manifest.check(source.path, source.manifest)
    (path / manifest.NAME).write_text("{}")
    with pytest.raises(DfrError, match="not a dfr-backup manifest"):
        formats.detect(path, check_set=False)


def test_manifest_not_ours(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"odoo_dump": "1"}))
    with pytest.raises(DfrError, match="not a dfr-backup manifest"):
        manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(DfrError, match="cannot be read as JSON"):
        manifest.load(tmp_path)


def _try_lock(folder, queue):
    try:
        with lock.held(folder, "backup", "prod"):
            queue.put("got it")
    except DfrError as error:
        queue.put(str(error))


def test_lock_says_who_holds_it_and_is_released(tmp_path):
    queue = multiprocessing.Queue()
    with lock.held(tmp_path, "restore", "prod") as info:
        child = multiprocessing.Process(target=_try_lock, args=(tmp_path, queue))
        child.start()
        child.join(30)
        message = queue.get(timeout=5)
        assert "another backup operation of prod is running: restore" in message
        assert f"pid {os.getpid()}" in message and info["since"] in message
    child = multiprocessing.Process(target=_try_lock, args=(tmp_path, queue))
    child.start()
    child.join(30)
    assert queue.get(timeout=5) == "got it"


def test_lock_of_a_killed_holder_is_free(tmp_path):
    child = multiprocessing.Process(target=lambda: (lock.held(tmp_path, "backup").__enter__(), os._exit(0)))
    child.start()
    child.join(30)
    with lock.held(tmp_path, "backup"):
        pass


def test_format_detection(tmp_path, env):
    path = make_set(tmp_path, env)
    assert formats.detect(path).kind == "set"
    (tmp_path / "custom.dump").write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
    assert formats.detect(tmp_path / "custom.dump").kind == "pg-custom"
    sql = "--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.8\nSELECT 1;\n" \
          "--\n-- PostgreSQL database dump complete\n--\n"
    (tmp_path / "a.sql").write_text(sql)
    assert formats.detect(tmp_path / "a.sql").pg_version == "15.8"
    (tmp_path / "cut.sql").write_text(sql[:60])
    with pytest.raises(DfrError, match="truncated SQL dump"):
        formats.detect(tmp_path / "cut.sql")
    with zipfile.ZipFile(tmp_path / "odoo.zip", "w") as archive:
        archive.writestr("dump.sql", sql)
        archive.writestr("filestore/ab/abcdef", b"file")
        archive.writestr("manifest.json", json.dumps({"major_version": "17.0", "pg_version": "14.0"}))
    source = formats.detect(tmp_path / "odoo.zip")
    assert (source.kind, source.major_version) == ("odoo-zip", "17.0")
    raw = bytearray((tmp_path / "odoo.zip").read_bytes())
    raw[40] ^= 0xFF  # inside dump.sql's data
    (tmp_path / "bad.zip").write_bytes(bytes(raw))
    with pytest.raises(DfrError, match="damaged"):
        formats.detect(tmp_path / "bad.zip")
    (tmp_path / "short.zip").write_bytes(bytes(raw[:100]))
    with pytest.raises(DfrError, match="damaged or truncated zip"):
        formats.detect(tmp_path / "short.zip")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(100))
    with pytest.raises(DfrError, match="is not a backup"):
        formats.detect(tmp_path / "photo.jpg")
    with pytest.raises(DfrError, match="does not exist"):
        formats.detect(tmp_path / "nope")
