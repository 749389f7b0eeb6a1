"""The helper's subcommands that need no database, run through its command line on real files:
one JSON object on success, one `dfr-backup-helper: ...` line otherwise."""
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile

import pytest

from dfr_backup_helper import cli


def helper(capsys, *argv, stdin=None, monkeypatch=None):
    """(JSON answer, None) or (None, the one-line failure)."""
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        cli.main([str(a) for a in argv])
    except SystemExit as stop:
        message = str(stop.code)
        assert message.startswith("dfr-backup-helper: ") and "\n" not in message
        return None, message
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1]), None


def test_is_dir_does_not_follow_links(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    (tmp_path / "l").symlink_to(tmp_path / "d")
    answers = {name: helper(capsys, "is-dir", tmp_path / name)[0] for name in ("d", "f", "l", "missing")}
    assert answers == {"d": {"is_dir": True}, "f": {"is_dir": False}, "l": {"is_dir": False},
                       "missing": {"is_dir": False}}


def test_merge_files_copies_only_what_is_missing(tmp_path, capsys):
    src, dest, outside = tmp_path / "src", tmp_path / "dest", tmp_path / "outside"
    for folder in (src / "ab", dest / "ab", outside):
        folder.mkdir(parents=True)
    (src / "ab/new").write_bytes(b"new")
    os.chmod(src / "ab/new", 0o4777)
    (src / "ab/both").write_bytes(b"source copy")
    (dest / "ab/both").write_bytes(b"kept")
    (src / "cd").mkdir()
    (src / "cd/deep").write_bytes(b"deep")
    (outside / "secret").write_bytes(b"secret")
    (src / "ab/link").symlink_to(outside / "secret")              # never followed
    (src / "linkdir").symlink_to(outside)                         # never entered
    (dest / "ef").symlink_to(outside)                             # never written through
    (src / "ef").mkdir()
    (src / "ef/into").write_bytes(b"would land outside")
    answer, error = helper(capsys, "merge-files", "--src", src, "--dest", dest)
    assert error is None
    assert answer == {"copied": 2, "present": 1, "skipped": ["ab/link", "ef"]}
    assert (dest / "ab/new").read_bytes() == b"new" and (dest / "cd/deep").read_bytes() == b"deep"
    assert (dest / "ab/both").read_bytes() == b"kept"
    assert stat.S_IMODE((dest / "ab/new").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "cd").stat().st_mode) == 0o755
    assert not (dest / "ab/link").exists() and not (dest / "linkdir").exists()
    assert sorted(os.listdir(outside)) == ["secret"]


def test_wal_list_lists_regular_files_only(tmp_path, capsys):
    (tmp_path / "000000010000000000000001").write_bytes(b"x" * 10)
    (tmp_path / "00000002.history").write_bytes(b"h")
    (tmp_path / "archive_status").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "00000002.history")
    answer, _ = helper(capsys, "wal-list", "--archive", tmp_path)
    assert [row[:2] for row in answer["files"]] == [["000000010000000000000001", 10], ["00000002.history", 1]]
    assert all(isinstance(row[2], float) for row in answer["files"])
    assert answer["histories"] == {}   # not a compressed history: no text


def test_wal_list_gives_the_text_of_compressed_history_files(tmp_path, capsys):
    import gzip
    (tmp_path / "00000003.history.gz").write_bytes(gzip.compress(b"1\t0/3000000\tno recovery target\n"))
    (tmp_path / "00000004.history.gz").write_bytes(b"not gzip")
    answer, _ = helper(capsys, "wal-list", "--archive", tmp_path)
    assert answer["histories"]["00000003.history.gz"] == "1\t0/3000000\tno recovery target\n"
    assert "00000004.history.gz" not in answer["histories"]


def test_df_move_and_remove(tmp_path, capsys):
    answer, _ = helper(capsys, "df", tmp_path)
    assert answer[str(tmp_path)]["free"] > 0
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert helper(capsys, "move", tmp_path / "a", tmp_path / "c")[0] == {"moved": [True]}
    assert helper(capsys, "move", "--missing-ok", tmp_path / "a", tmp_path / "d")[0] == {"moved": [False]}
    assert "refusing to overwrite" in helper(capsys, "move", tmp_path / "c", tmp_path / "b")[1]
    assert "does not exist" in helper(capsys, "move", tmp_path / "a", tmp_path / "e")[1]
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "keep").write_text("x")
    (root / "link").symlink_to(outside)
    (root / "tree").mkdir()
    (root / "tree/file").write_text("x")
    assert helper(capsys, "remove", "--root", root, root / "link", root / "tree")[0] == {"removed": 2}
    assert os.listdir(root) == [] and (outside / "keep").exists()   # the link went, not what it pointed to
    assert "refusing to remove" in helper(capsys, "remove", "--root", root, outside / "keep")[1]
    assert "refusing to remove" in helper(capsys, "remove", "--root", root, root)[1]
    assert (outside / "keep").exists()


def test_check_files_counts_unsafe_names_as_missing(tmp_path, capsys, monkeypatch):
    (tmp_path / "ab").mkdir()
    (tmp_path / "ab/there").write_text("x")
    answer, _ = helper(capsys, "check-files", "--root", tmp_path, monkeypatch=monkeypatch,
                       stdin="ab/there\nab/gone\n../../etc/passwd\n\n")
    assert answer == {"missing": ["ab/gone", "../../etc/passwd"], "checked": 3, "relation": True}


def fake_psql(tmp_path, monkeypatch, relation_exists, rows):
    """A stand-in psql on PATH: answers the relation probe, prints `rows` for any other query,
    and records what it was asked (returned)."""
    log, fake = tmp_path / "asked", tmp_path / "psql"
    fake.write_text("#!/bin/sh\ncat >> \"$ASKED\"\necho >> \"$ASKED\"\n"
                    f"case \"$*\" in *relation=*) echo {'t' if relation_exists else 'f'} ;; "
                    f"*) printf '{rows}' ;; esac\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("ASKED", str(log))
    return log


def test_check_files_reads_the_attachment_rows_from_the_database(tmp_path, capsys, monkeypatch):
    """--db: the names come from the database (the step's own role), not stdin; stdin is ignored."""
    root = tmp_path / "fs"
    (root / "ab").mkdir(parents=True)
    (root / "ab/there").write_text("x")
    asked = fake_psql(tmp_path, monkeypatch, True, "ab/there\\tsha\\nab/gone\\t\\n../x\\tsha\\n")
    answer, failure = helper(capsys, "check-files", "--root", root, "--db", "side", monkeypatch=monkeypatch,
                             stdin="ab/ignored\n")
    assert failure is None and answer == {"missing": ["ab/gone", "../x"], "checked": 3, "relation": True}
    assert "FROM ir_attachment" in asked.read_text()


def test_check_files_of_a_database_without_attachments_checks_nothing(tmp_path, capsys, monkeypatch):
    asked = fake_psql(tmp_path, monkeypatch, False, "ab/gone\\t\\n")
    answer, failure = helper(capsys, "check-files", "--root", tmp_path, "--db", "side")
    assert failure is None and answer == {"missing": [], "checked": 0, "relation": False}
    assert "FROM ir_attachment" not in asked.read_text()      # not asked: the table is not there


def test_verify_files_reads_the_rows_from_the_database(tmp_path, capsys, monkeypatch):
    content = b"attachment"
    sha = hashlib.sha1(content).hexdigest()
    (tmp_path / "fs/ab").mkdir(parents=True)
    (tmp_path / "fs/ab/good").write_bytes(content)
    (tmp_path / "fs/ab/bad").write_bytes(b"changed")
    fake_psql(tmp_path, monkeypatch, True, f"ab/good\\t{sha}\\nab/bad\\t{sha}\\nab/gone\\t{sha}\\n")
    answer, failure = helper(capsys, "verify-files", "--root", tmp_path / "fs", "--db", "copy")
    assert failure is None and answer == {"checked": 2, "missing": ["ab/gone"], "mismatched": ["ab/bad"]}


def test_link_files_reads_the_rows_from_the_database(tmp_path, capsys, monkeypatch):
    """--db: the rows come from the database (the step's own role); without an attachment table
    nothing is linked and no folder is made."""
    content = b"attachment"
    sha = hashlib.sha1(content).hexdigest()
    live, dest = tmp_path / "live", tmp_path / "side"
    (live / sha[:2]).mkdir(parents=True)
    (live / sha[:2] / sha).write_bytes(content)
    fake_psql(tmp_path, monkeypatch, True, f"{sha[:2]}/{sha}\\t{sha}\\nab/gone\\t{sha}\\n")
    answer, failure = helper(capsys, "link-files", "--source", live, "--dest", dest, "--db", "side")
    assert failure is None and answer == {"linked": 1, "missing": ["ab/gone"], "mismatched": []}
    assert (dest / sha[:2] / sha).read_bytes() == content
    fake_psql(tmp_path, monkeypatch, False, "")
    answer, failure = helper(capsys, "link-files", "--source", live, "--dest", tmp_path / "other", "--db", "x")
    assert failure is None and answer == {"linked": 0, "missing": [], "mismatched": [], "relation": False}
    assert not (tmp_path / "other").exists()


def test_link_files_never_links_through_a_symlink(tmp_path, capsys, monkeypatch):
    live, outside, dest = tmp_path / "live", tmp_path / "outside", tmp_path / "side"
    outside.mkdir()
    content = b"attachment"
    sha = hashlib.sha1(content).hexdigest()
    (outside / sha).write_bytes(content)
    live.mkdir()
    (live / sha[:2]).symlink_to(outside)                    # a planted link to a folder elsewhere
    answer, _ = helper(capsys, "link-files", "--source", live, "--dest", dest, monkeypatch=monkeypatch,
                       stdin=f"{sha[:2]}/{sha}\t{sha}\n")
    assert answer == {"linked": 0, "missing": [f"{sha[:2]}/{sha}"], "mismatched": []}
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755


def tar_zst(path, members):
    """A .tar.zst of (name, data or None for a folder) made by tarfile, as pg_basebackup's ustar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o700
                archive.addfile(info)
            else:
                info.size, info.mode = len(data), 0o600
                archive.addfile(info, io.BytesIO(data))
    subprocess.run(["zstd", "-q", "-c"], input=raw.getvalue(), stdout=open(path, "wb"), check=True)


def test_unpack_basebackup_into_an_empty_mount_point(tmp_path, capsys):
    src, dest = tmp_path / "basebackup", tmp_path / "volume"
    src.mkdir()
    dest.mkdir(mode=0o755)
    tar_zst(src / "base.tar.zst", [("PG_VERSION", b"15\n"), ("global", None), ("global/pg_control", b"c" * 8192),
                                   ("pg_wal", None), ("backup_label", b"label")])
    tar_zst(src / "pg_wal.tar.zst", [("000000010000000000000002", b"w" * 1024), ("archive_status", None)])
    (src / "backup_manifest").write_text('{"PostgreSQL-Backup-Manifest-Version": 1}')
    answer, error = helper(capsys, "unpack-basebackup", "--src", src, "--dest", dest, "--recovery-signal")
    assert error is None and answer["files"] == 6
    assert (dest / "pg_wal/000000010000000000000002").read_bytes() == b"w" * 1024
    assert (dest / "recovery.signal").read_bytes() == b""
    assert (dest / "backup_manifest").read_text().startswith("{")
    modes = {p.relative_to(dest).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in dest.rglob("*")}
    assert set(modes.values()) == {0o600, 0o700} and stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert modes["global"] == 0o700 and modes["global/pg_control"] == 0o600
    # a second run finds the mount point in use: refused, what is there is left alone
    assert "already exists" in helper(capsys, "unpack-basebackup", "--src", src, "--dest", dest)[1]
    assert (dest / "PG_VERSION").exists()


def test_unpack_basebackup_refuses_a_link_and_empties_the_mount_point(tmp_path, capsys):
    src, dest = tmp_path / "basebackup", tmp_path / "volume"
    src.mkdir()
    dest.mkdir()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        archive.addfile(tarfile.TarInfo("PG_VERSION"), io.BytesIO(b""))
        link = tarfile.TarInfo("pg_tblspc/16384")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        archive.addfile(link)
    subprocess.run(["zstd", "-q", "-c"], input=raw.getvalue(), stdout=open(src / "base.tar.zst", "wb"), check=True)
    answer, error = helper(capsys, "unpack-basebackup", "--src", src, "--dest", dest)
    assert answer is None and "symbolic link" in error and error.endswith("nothing was restored")
    assert dest.is_dir() and os.listdir(dest) == []


def test_every_option_is_explained():
    parser = cli.parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"dump", "filestore", "restore-db", "restore-custom", "restore-sql", "restore-filestore", "export-zip",
            "check-files", "link-files", "move", "remove", "df", "encrypt", "decrypt", "is-dir", "merge-files",
            "wal-list", "basebackup", "unpack-basebackup", "offsite-copy"} <= set(commands)
    for name, command in commands.items():
        for action in command._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.dest}"
            assert action.dest != "owner", name          # the helper never changes owners


def test_dump_rows_are_the_lines_before_pg_dumps_end_marker(tmp_path):
    from dfr_backup_helper.dump import squeeze
    for content, rows in ((b"1\tx\n2\t\\N\n\\.\n\n\n", 2), (b"\\.\n\n\n", 0), (b"1\ta\\nb\n", 1)):
        path = tmp_path / "3525.dat"
        path.write_bytes(content)
        assert squeeze(str(path), 1) == (len(content), rows)
        assert not path.exists()
        assert subprocess.run(["zstd", "-dc", f"{path}.zst"], capture_output=True, check=True).stdout == content
        os.unlink(f"{path}.zst")


@pytest.mark.parametrize("exists, expected", [("t", {"rows": ["a\t1", "b\t2"], "relation": True}),
                                              ("f", {"rows": [], "relation": False})])
def test_query_if_relation_runs_the_query_only_when_the_table_exists(tmp_path, capsys, monkeypatch, exists, expected):
    """One container asks whether the table exists and, only if it does, runs the query (a
    stand-in psql here records what it was asked)."""
    log = tmp_path / "asked"
    fake = tmp_path / "psql"
    fake.write_text("#!/bin/sh\ncat >> \"$ASKED\"\necho >> \"$ASKED\"\n"
                    f"case \"$*\" in *relation=*) echo {exists} ;; *) printf 'a\\t1\\nb\\t2\\n' ;; esac\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("ASKED", str(log))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"SELECT name, n FROM t")))
    answer, failure = helper(capsys, "query", "--db", "dfr", "--if-relation", "public.t")
    assert failure is None and answer == expected
    asked = log.read_text()
    assert "to_regclass(:'relation')" in asked
    assert ("SELECT name, n FROM t" in asked) == (exists == "t")
