"""What a point-in-time drill concludes from the recovery marks (backup.drill.checks)."""
import pytest

from dfr_deploy.backup.drill.checks import marks_replayed
from dfr_deploy.errors import DfrError

LIVE = ["1000.000001", "1100.500000", "1200.250000", "1300.000000"]


def test_every_mark_before_the_moment_found_passes_and_counts_them():
    assert marks_replayed(LIVE, LIVE[:3], 1250) == 3


def test_a_mark_within_the_last_second_may_still_be_uncommitted():
    # the mark's time is taken before its commit: 1200.25 may commit after 1200.9
    assert marks_replayed(LIVE, LIVE[:2], 1200.9) == 2


def test_a_missing_mark_before_the_moment_fails_and_names_it():
    with pytest.raises(DfrError, match=r"1 of 3 recovery marks .* missing .*epoch 1100\.5"):
        marks_replayed(LIVE, [LIVE[0], LIVE[2]], 1250)


def test_a_mark_after_the_moment_fails():
    with pytest.raises(DfrError, match=r"epoch 1300(\.0+)?, after the target"):
        marks_replayed(LIVE, LIVE, 1250)


def test_microseconds_are_compared_exactly():
    with pytest.raises(DfrError, match="missing"):
        marks_replayed(["1000.000001"], ["1000.000002"], 2000)
