"""WAL positions, archive names, holes, retention and recovery-target rules (no Docker needed)."""
from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from dfr_deploy.backup import pitr, wal
from dfr_deploy.backup.listing import Entry
from dfr_deploy.errors import DfrError


def test_lsn_round_trip_and_segment_names():
    lsn = wal.parse_lsn("16/B374D848")
    assert lsn == (0x16 << 32) | 0xB374D848
    assert wal.format_lsn(lsn) == "16/B374D848"
    # PostgreSQL: pg_walfile_name('16/B374D848') on timeline 1
    assert wal.segment_name(1, wal.segment_number(lsn)) == "0000000100000016000000B3"
    assert wal.segment_name(2, wal.segment_number(wal.parse_lsn("0/3000060"))) == "000000020000000000000003"


@pytest.mark.parametrize("bad", ["", "16", "16/", "G/1", "1/2/3", "123456789/0"])
def test_bad_lsn_is_one_clear_error(bad):
    with pytest.raises(DfrError, match="is not a WAL position"):
        wal.parse_lsn(bad)


@given(st.integers(min_value=0, max_value=(1 << 40) - 1))
def test_segment_name_matches_the_archive_pattern(number):
    for suffix in (".zst", ".gz"):       # .gz: archives written by dfr-deploy 0.2
        item = wal.classify(wal.segment_name(3, number) + suffix, 1, 0)
        assert (item.kind, item.timeline, item.number) == ("segment", 3, number)
    assert wal.classify(wal.segment_name(3, number) + ".xz", 1, 0).kind == "other"


def test_classify_every_kind_of_archive_file():
    assert wal.classify("00000002.history.zst", 1, 0).kind == "history"
    assert wal.classify("00000002.history.gz", 1, 0).kind == "history"
    assert wal.classify("000000010000000000000003.00000028.backup.gz", 1, 0).kind == "backup"
    assert wal.classify("000000010000000000000003.partial.zst", 1, 0).kind == "partial"
    assert wal.classify(".000000010000000000000003.tmp.12", 1, 0).kind == "other"


def files(*specs):
    return [wal.classify(f"{wal.segment_name(tl, n)}{suffix}.gz", 1, 0) for tl, n, suffix in specs]


def test_holes_are_found_per_timeline():
    archive = files((1, 1, ""), (1, 2, ""), (1, 4, ""), (2, 4, ""), (2, 5, ""))
    assert wal.holes(archive) == [wal.segment_name(1, 3)]


def test_retention_keeps_what_the_oldest_base_backup_needs_and_every_history():
    archive = files((1, 1, ""), (1, 2, ""), (1, 2, ".00000028.backup"), (1, 3, ""), (2, 3, ""), (1, 3, ".partial"))
    archive.append(wal.classify("00000002.history.gz", 1, 0))
    gone = {f.name for f in wal.removable(archive, oldest_needed=3)}
    assert gone == {wal.segment_name(1, 1) + ".gz", wal.segment_name(1, 2) + ".gz",
                    wal.segment_name(1, 2) + ".00000028.backup.gz"}
    assert wal.removable(archive, oldest_needed=None) == [], "no base backup: keep everything"


@given(st.lists(st.integers(min_value=0, max_value=500), min_size=1), st.integers(min_value=0, max_value=500))
def test_retention_never_removes_a_needed_segment(numbers, needed):
    archive = files(*[(1, n, "") for n in numbers])
    assert all(f.number < needed for f in wal.removable(archive, needed))
    kept = {f.number for f in archive} - {f.number for f in wal.removable(archive, needed)}
    assert kept == {n for n in numbers if n >= needed}


def test_exactly_one_target():
    with pytest.raises(DfrError, match="exactly one recovery target"):
        pitr.parse_target()
    with pytest.raises(DfrError, match="exactly one recovery target.*--to-time, --latest"):
        pitr.parse_target(to_time="2026-01-01 00:00:00+00", latest=True)
    with pytest.raises(DfrError, match="is not a time"):
        pitr.parse_target(to_time="yesterday")
    with pytest.raises(DfrError, match="is not a transaction id"):
        pitr.parse_target(to_xid="12a")


def test_time_target_without_zone_is_utc_and_inclusive():
    target = pitr.parse_target(to_time="2026-11-21 10:32:05")
    assert target.time == datetime(2026, 11, 21, 10, 32, 5, tzinfo=timezone.utc)
    assert target.settings() == {"recovery_target_time": "2026-11-21 10:32:05.000000+00"}
    assert pitr.parse_target(to_time="2026-11-21 12:32:05+02").time == target.time


def base_set(name, consistent, start_lsn, end_lsn, horizon=100):
    entry = Entry(name, None)
    entry.data = {"method": "basebackup", "verified": True, "started_at": consistent,
                  "wal": {"timeline": 1, "start_lsn": start_lsn, "end_lsn": end_lsn,
                          "consistent_at": consistent, "xid_horizon": horizon}}
    return entry


def window_of(sets, end):
    win = pitr.Window(sets, [])
    win.start = min(datetime.strptime(e.data["wal"]["consistent_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc) for e in sets)
    win.start_lsn = min(wal.parse_lsn(e.data["wal"]["end_lsn"]) for e in sets)
    win.end, win.end_lsn = end, wal.parse_lsn("0/9000000")
    return win


def test_the_newest_base_backup_before_the_target_is_chosen():
    sets = [base_set("a", "2026-11-20T10:00:00Z", "0/2000028", "0/2000100", 100),
            base_set("b", "2026-11-21T10:00:00Z", "0/5000028", "0/5000100", 900)]
    win = window_of(sets, datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc))
    assert pitr.choose(pitr.parse_target(to_time="2026-11-21 09:59:59+00"), win).name == "a"
    assert pitr.choose(pitr.parse_target(to_time="2026-11-21 10:00:00+00"), win).name == "b"
    assert pitr.choose(pitr.parse_target(to_lsn="0/4000000"), win).name == "a"
    assert pitr.choose(pitr.parse_target(to_xid="500"), win).name == "a"
    assert pitr.choose(pitr.parse_target(latest=True), win).name == "b"


@pytest.mark.parametrize("target", [{"to_time": "2026-11-19 00:00:00+00"}, {"to_time": "2026-11-21 12:00:01+00"},
                                    {"to_lsn": "0/1000000"}, {"to_lsn": "0/A000000"}])
def test_a_target_outside_the_window_is_refused_with_the_window(target):
    sets = [base_set("a", "2026-11-20T10:00:00Z", "0/2000028", "0/2000100")]
    win = window_of(sets, datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc))
    with pytest.raises(DfrError, match=r"outside the recoverable window 2026-11-20 10:00:00\+00 \.\. "
                                       r"2026-11-21 12:00:00\+00 .*nothing was changed"):
        pitr.choose(pitr.parse_target(**target), win)


def test_no_base_backup_says_how_to_make_one():
    with pytest.raises(DfrError, match="--method=basebackup"):
        pitr.choose(pitr.parse_target(latest=True), pitr.Window([], []))
