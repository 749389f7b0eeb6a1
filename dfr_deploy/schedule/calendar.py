"""Cron expressions, as config/<env>.env holds them (`30 1 * * *`), converted once, here, to
systemd's OnCalendar.

Every field is expanded to the explicit values it matches (ranges, steps and names included), so
the conversion is exact rather than clever. Cron's one odd rule is kept: when both day-of-month
and day-of-week are restricted, a day matching EITHER runs the job - systemd ANDs them, so that
case becomes two OnCalendar lines.
"""
from dataclasses import dataclass

from ..errors import DfrError

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
SYSTEMD_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
# field -> (lowest, highest, names starting at `lowest`)
FIELDS = (("minute", 0, 59, None), ("hour", 0, 23, None), ("day of month", 1, 31, None),
          ("month", 1, 12, MONTHS), ("day of week", 0, 7, DAYS))


@dataclass
class Cron:
    text: str
    values: list        # per field: sorted values, or None for "*" (every value)
    restricted: list    # per field: False when it starts with "*" (cron's rule for the day OR)


def _number(token, low, high, names, field, text):
    token = token.lower()
    if names and token in names:
        return names.index(token) + low
    if not token.isdigit():
        raise DfrError(f"{text!r}: {token!r} is not a valid {field}: write cron's five fields, e.g. \"30 1 * * *\"")
    value = int(token)
    if not low <= value <= high:
        raise DfrError(f"{text!r}: {field} {value} is outside {low}-{high}")
    return value


def _field(raw, low, high, names, field, text):
    values = set()
    for part in raw.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise DfrError(f"{text!r}: {part!r} has a bad step in the {field}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = (_number(first, low, high, names, field, text), _number(last, low, high, names, field, text))
            if start > end:
                raise DfrError(f"{text!r}: the range {base!r} of the {field} runs backwards")
        else:
            start = _number(base, low, high, names, field, text)
            end = high if step else start
        values.update(range(start, end + 1, int(step) if step else 1))
    return sorted(values)


def parse(text):
    """A Cron, or a DfrError that says which field is wrong."""
    parts = str(text or "").split()
    if len(parts) != 5:
        raise DfrError(f"{text!r} is not a cron expression: write five fields (minute hour day month weekday), "
                       "e.g. \"30 1 * * *\"")
    values, restricted = [], []
    for raw, (field, low, high, names) in zip(parts, FIELDS):
        expanded = _field(raw, low, high, names, field, text)
        if field == "day of week":
            expanded = sorted({v % 7 for v in expanded})   # 7 is Sunday too
            full = expanded == list(range(7))
        else:
            full = expanded == list(range(low, high + 1))
        values.append(None if full else expanded)
        restricted.append(not raw.startswith("*"))
    return Cron(text, values, restricted)


def _join(values, width=2):
    return "*" if values is None else ",".join(f"{v:0{width}d}" for v in values)


def to_oncalendar(text):
    """The OnCalendar lines equivalent to a cron expression (local time, like cron)."""
    cron = parse(text)
    minute, hour, dom, month, dow = cron.values
    clock = f"{_join(hour)}:{_join(minute)}:00"

    def line(days_of_month, days_of_week):
        weekday = "" if days_of_week is None else ",".join(SYSTEMD_DAYS[d] for d in days_of_week) + " "
        return f"{weekday}*-{_join(month)}-{_join(days_of_month)} {clock}"

    if cron.restricted[2] and cron.restricted[4] and dom is not None and dow is not None:
        return [line(dom, None), line(None, dow)]
    return [line(dom, dow)]
