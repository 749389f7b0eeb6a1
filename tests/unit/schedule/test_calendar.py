"""Cron expressions -> systemd OnCalendar, checked against systemd itself (`systemd-analyze
calendar`) and against croniter's reading of the same cron expression: the next runs agree."""
import os
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from croniter import croniter

from dfr_deploy.errors import DfrError
from dfr_deploy.schedule import calendar

BASE = datetime(2026, 11, 29, 13, 7, 0, tzinfo=timezone.utc)
EXPRESSIONS = ["30 1 * * *", "*/5 * * * *", "0 2 * * 0", "0 2 * * 7", "0 4 * * sat", "15 3 1,15 * *",
               "0 4 1,15 * mon-fri", "45 23 * jan,jul sun", "0 */6 * * *", "10-20/5 8 * * 1-5", "0 0 29 2 *",
               "5 0 * * MON,wed"]


def systemd_next(lines, count):
    """The next `count` elapses of OnCalendar lines (their union), as systemd computes them."""
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: run `bash setup.sh` (it installs systemd's tools)"
    found = set()
    for line in lines:
        out = subprocess.run([tool, "calendar", f"--iterations={count}", "--base-time=2026-11-29 13:07:00 UTC",
                              line + " UTC"], capture_output=True, text=True, check=True,
                             env={**os.environ, "TZ": "UTC", "LC_ALL": "C"}).stdout
        for text in out.splitlines():
            text = text.strip()
            if text.startswith(("Next elapse:", "Iter. #")):
                stamp = text.split(":", 1)[1].strip()          # e.g. "Sun 2026-11-29 13:10:00 UTC"
                found.add(datetime.strptime(stamp, "%a %Y-%m-%d %H:%M:%S %Z").replace(tzinfo=timezone.utc))
    return sorted(found)[:count]


def cron_next(expression, count):
    it = croniter(expression, BASE)
    return [it.get_next(datetime) for _ in range(count)]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_systemd_runs_the_job_when_cron_would(expression):
    lines = calendar.to_oncalendar(expression)
    assert systemd_next(lines, 12) == cron_next(expression, 12), lines


def test_both_day_fields_restricted_means_either_day_as_in_cron():
    lines = calendar.to_oncalendar("0 4 1,15 * mon-fri")
    assert len(lines) == 2       # systemd would AND them in one line
    runs = systemd_next(lines, 200)   # about nine months: some 1st or 15th falls on a weekend
    assert any(r.day in (1, 15) and r.weekday() >= 5 for r in runs), "the 1st/15th on a weekend runs too"
    assert any(r.day not in (1, 15) and r.weekday() < 5 for r in runs), "and every weekday"


@pytest.mark.parametrize("bad,field", [("30 1 * *", "five fields"), ("61 1 * * *", "minute"), ("0 24 * * *", "hour"),
                                       ("0 1 0 * *", "day of month"), ("0 1 * 13 *", "month"),
                                       ("0 1 * * funday", "day of week"), ("0 1 * * 1-x", "day of week"),
                                       ("*/0 * * * *", "step"), ("0 5-1 * * *", "backwards"),
                                       ("0 1 * * * rm -rf /", "five fields")])
def test_a_bad_expression_is_one_clear_error(bad, field):
    with pytest.raises(DfrError, match=field):
        calendar.to_oncalendar(bad)
