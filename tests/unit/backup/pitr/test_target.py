"""Recovery targets and the choice of a base backup inside the window (no Docker needed)."""
from datetime import datetime, timezone

import pytest

from dfr_deploy.backup.listing import Entry
from dfr_deploy.backup.pitr import target as pitr
from dfr_deploy.backup.wal import names as wal
from dfr_deploy.errors import DfrError


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
