"""WAL positions, archive names, holes and the retention rule (no Docker needed)."""
import pytest
from hypothesis import given, strategies as st

from dfr_deploy.backup.wal import names as wal
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
