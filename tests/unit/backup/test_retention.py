"""Retention on a synthetic 400-day calendar: exactly the expected sets are kept."""
import random
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from dfr_deploy.backup.retention import Candidate, plan

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def calendar(days_with_sets, per_day):
    """Sets on some of 400 days, several a day; names shuffled so name order means nothing."""
    sets = []
    for day in sorted(days_with_sets):
        for number in range(per_day):
            when = START + timedelta(days=day, hours=2 + number * 5, minutes=number)
            sets.append(Candidate(f"set-{random.random():.12f}", when))
    return sets


def expected(sets, daily, weekly, monthly):
    """An independent statement of the rule: the newest set of each of the N most recent
    day/week/month periods that have a set, plus the newest set overall."""
    keep = set()
    newest = max(sets, key=lambda c: c.when)
    keep.add(newest.key)
    for count, period in ((daily, lambda t: t.date()), (weekly, lambda t: t.isocalendar()[:2]),
                          (monthly, lambda t: (t.year, t.month))):
        periods = {}
        for c in sets:
            p = period(c.when)
            if p not in periods or c.when > periods[p].when:
                periods[p] = c
        for p in sorted(periods, reverse=True)[:count]:
            keep.add(periods[p].key)
    return keep


@settings(max_examples=200, deadline=None)
@given(days=st.sets(st.integers(min_value=0, max_value=399), min_size=1, max_size=400),
       per_day=st.integers(min_value=1, max_value=3),
       daily=st.integers(min_value=0, max_value=14), weekly=st.integers(min_value=0, max_value=10),
       monthly=st.integers(min_value=0, max_value=14), seed=st.integers())
def test_keeps_exactly_the_expected_sets(days, per_day, daily, weekly, monthly, seed):
    random.seed(seed)
    sets = calendar(days, per_day)
    result = plan(sets, daily, weekly, monthly)
    assert set(result.keep) == expected(sets, daily, weekly, monthly)
    assert set(result.keep) | set(result.drop) == {c.key for c in sets}
    assert not set(result.keep) & set(result.drop)
    # never the newest verified set, whatever the counts
    assert max(sets, key=lambda c: c.when).key in result.keep
    # the input order and the names do not matter
    shuffled = sets[:]
    random.shuffle(shuffled)
    assert set(plan(shuffled, daily, weekly, monthly).keep) == set(result.keep)


def test_full_calendar_daily_sets_400_days():
    """One set a day for 400 days, keep 7/5/12: 7 days + the weekly/monthly extras."""
    sets = calendar(range(400), 1)
    result = plan(sets, 7, 5, 12)
    kept = sorted(c.when.date() for c in sets if c.key in result.keep)
    last = (START + timedelta(days=399)).date()  # 2025-02-03, a Monday
    days = [last - timedelta(days=n) for n in range(7)]
    # weekly: newest of each of the 5 most recent ISO weeks (Sundays, plus the current Monday)
    weeks = [last] + [last - timedelta(days=1 + 7 * n) for n in range(4)]
    # monthly: newest day of each of the 12 most recent months
    months = [last, datetime(2025, 1, 31).date()] + [
        (datetime(2024 + m // 12, m % 12 + 1, 1) - timedelta(days=1)).date() for m in range(3, 13)]
    assert kept == sorted(set(days) | set(weeks) | set(months))
    assert len(result.drop) == 400 - len(kept)


def test_unverified_sets_never_fill_a_slot_and_newest_verified_survives():
    sets = calendar(range(10), 1)
    for c in sets[-3:]:
        c.verified = False  # the three newest are damaged
    result = plan(sets, 1, 0, 0)
    newest_verified = sets[-4]
    assert list(result.keep) == [newest_verified.key]
    assert all(c.key in result.drop for c in sets[-3:])


def test_zero_everything_still_keeps_the_newest_verified():
    sets = calendar(range(30), 2)
    result = plan(sets, 0, 0, 0)
    assert list(result.keep) == [max(sets, key=lambda c: c.when).key]


def test_time_zones_are_normalised_to_utc():
    east = timezone(timedelta(hours=5))
    a = Candidate("a", datetime(2024, 3, 1, 23, 30, tzinfo=timezone.utc))
    b = Candidate("b", datetime(2024, 3, 2, 4, 0, tzinfo=east))  # 2024-03-01 23:00 UTC, same day, older
    assert list(plan([a, b], 1, 0, 0).keep) == ["a"]


def test_each_kind_of_set_keeps_its_own_slots():
    """A logical set of the same day never pushes the base backup (point-in-time recovery's
    start) out, nor the reverse."""
    from dfr_deploy.backup.listing import Entry
    from dfr_deploy.backup.prune import plan_by_kind

    def entry(name, method, when):
        e = Entry(name, None)
        e.data = {"method": method, "verified": True, "started_at": when}
        return e

    entries = [entry("base-1", "basebackup", "2026-11-20T02:00:00Z"), entry("set-1", "logical", "2026-11-20T01:30:00Z"),
               entry("set-2", "logical", "2026-11-20T13:00:00Z"), entry("base-0", "basebackup", "2026-11-19T02:00:00Z")]
    plan = plan_by_kind(entries, daily=1, weekly=0, monthly=0)
    assert sorted(plan.keep) == ["base-1", "set-2"]
    assert sorted(plan.drop) == ["base-0", "set-1"]
