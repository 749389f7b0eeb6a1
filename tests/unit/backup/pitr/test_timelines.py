"""Which timeline a recovery follows and which base backups lie on it (no Docker needed)."""
from types import SimpleNamespace

from dfr_deploy.backup.listing import Entry
from dfr_deploy.backup.pitr import timelines
from dfr_deploy.backup.wal import names as wal

# Timeline 1 -> 2 at 0/5000000; 2 -> 3 at 0/8000000 (3's history lists both ancestors).
HISTORIES = {2: "1\t0/5000000\tbefore 2026-11-21 10:00:00+00\n",
             3: "1\t0/5000000\tbefore 2026-11-21 10:00:00+00\n\n# a comment\n2\t0/8000000\tat restore point\n",
             4: "1\t0/5000000\tno recovery target specified\n2\t0/9000000\tno recovery target specified\n"}


def base_set(timeline, end_lsn):
    entry = Entry(f"set-{timeline}-{end_lsn}", None)
    entry.data = {"wal": {"timeline": timeline, "start_lsn": end_lsn, "end_lsn": end_lsn}}
    return entry


def archived(*names):
    return [wal.classify(name, 1, 0) for name in names]


def test_history_lines_give_each_ancestor_and_where_the_line_left_it():
    assert timelines.parse_history(HISTORIES[3]) == [(1, 0x5000000), (2, 0x8000000)]
    assert timelines.parse_history("rm -rf /\n1\tnot-an-lsn\n") == []
    assert timelines.lineage(HISTORIES, 3) == {1: 0x5000000, 2: 0x8000000, 3: None}
    assert timelines.lineage({}, 1) == {1: None}


def test_a_base_backup_is_usable_only_before_the_line_left_its_timeline():
    line = timelines.lineage(HISTORIES, 3)
    assert timelines.on_line(base_set(1, "0/4000100"), line)
    assert not timelines.on_line(base_set(1, "0/6000100"), line)    # on 1 after 2 branched off
    assert timelines.on_line(base_set(2, "0/7000100"), line)
    assert not timelines.on_line(base_set(2, "0/8800100"), line)    # made on 2 after the restore left it
    assert timelines.on_line(base_set(3, "0/F000100"), line)
    assert not timelines.on_line(base_set(4, "0/9800100"), line)    # a sibling branch


def test_the_newest_timeline_skips_abandoned_ones_and_their_descendants():
    files = archived("000000010000000000000004.zst", "00000002.history.zst", "000000020000000000000008.zst",
                     "00000003.history.zst", "00000004.history.zst", "000000040000000000000009.zst")
    assert timelines.newest(files, HISTORIES, set()) == 4
    assert timelines.newest(files, HISTORIES, {4}) == 3
    assert timelines.newest(files, HISTORIES, {2}) == 1          # 3 and 4 descend from 2
    assert timelines.newest([], {}, set()) == 1


def test_abandoned_timelines_are_recorded_durably_only_when_archived(tmp_path, monkeypatch):
    env = SimpleNamespace()
    monkeypatch.setattr(timelines.settings, "backup_dir", lambda env, create=True: tmp_path)
    monkeypatch.setattr(timelines.archive, "read", lambda env, runner: ([], {3: "1\t0/3000000\n", 5: "x"}))
    runner = object()    # archive.read is replaced: the runner is only passed through
    assert timelines.abandoned(env) == set()
    timelines.abandon(env, runner, 5)
    timelines.abandon(env, runner, None)
    timelines.abandon(env, runner, 4)      # never archived its history: PostgreSQL may reuse the number
    timelines.abandon(env, runner, 3)
    assert timelines.abandoned(env) == {3, 5}
