"""Business-hours arithmetic: is a workspace open at an instant, when does it open next, what is an instant
plus N business minutes, and how many business minutes lie between two instants.

Pure: no Django, no clock, no database. A ``Schedule`` holds the workspace's time zone, its weekly opening
periods (local wall-clock minutes of a weekday) and the local dates it is closed (public and custom
holidays, gathered by ``halo.selectors.BusinessHoursSettings.schedule``). Every function takes and returns aware
datetimes; the arithmetic runs on the open *intervals* in UTC that ``open_intervals`` yields, so a
daylight-saving change is counted as the hours that really pass (a Sunday 00:00-24:00 on the night the
clocks go back is 25 hours long).

Invariants (property-tested in ``tests/halo/test_hours.py``):

- ``open_intervals`` yields disjoint intervals in increasing order, each non-empty; ``is_open(t)`` holds
  exactly inside one (start included, end excluded);
- ``add_business_minutes`` is monotonic in both arguments, never lands in a closed period when it moves
  (it lands at the end of the last minute it counts, which may be the closing instant), and
  ``add(add(t, a), b) == add(t, a + b)``;
- ``business_minutes_between(t, add(t, m)) == m``.

A local time the clocks skip (02:30 on the night they go forward) is read with the offset before the change
(Python's ``fold=0``): an opening at 02:30 that night opens at 03:30. A repeated local time (the night they
go back) is its first occurrence.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
# How far ahead the arithmetic looks for an open interval. A schedule closed for longer than this (every
# open weekday a holiday for three years) is treated as never opening.
HORIZON_DAYS = 3 * 366
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


def minute_of_day(text: str) -> int:
    """``"09:30"`` → 570; ``"24:00"`` → 1440 (a day's end). Raises ``ValueError`` for anything else."""
    if not isinstance(text, str) or not _CLOCK.fullmatch(text):
        raise ValueError(f"{text!r} is not a time of day in HH:MM (00:00 to 24:00).")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def clock_text(minute: int) -> str:
    """1440 → ``"24:00"``, 570 → ``"09:30"``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, order=True)
class Period:
    """Open on ``day`` (0 = Monday … 6 = Sunday) from ``open_minute`` to ``close_minute`` (local minutes after
    midnight, ``0 <= open < close <= 1440``)."""

    day: int
    open_minute: int
    close_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.day <= 6:
            raise ValueError("day is 0 (Monday) to 6 (Sunday).")
        if not 0 <= self.open_minute < self.close_minute <= MINUTES_PER_DAY:
            raise ValueError("A period closes after it opens, within one day.")


def periods_overlapping(periods: tuple[Period, ...] | list[Period]) -> list[tuple[Period, Period]]:
    """Pairs of periods of the same day that overlap (touching ends do not)."""
    ordered = sorted(periods)
    return [
        (first, second)
        for first, second in itertools.pairwise(ordered)
        if first.day == second.day and second.open_minute < first.close_minute
    ]


@dataclass(frozen=True)
class Schedule:
    """When a workspace is open. ``periods`` must not overlap (``periods_overlapping``)."""

    timezone: str
    periods: tuple[Period, ...]
    closed_dates: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


ALWAYS_OPEN_PERIODS = tuple(Period(day, 0, MINUTES_PER_DAY) for day in range(7))


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day, time()) + timedelta(minutes=minute)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _day_intervals(schedule: Schedule, day: date, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    if day in schedule.closed_dates:
        return
    for period in sorted(p for p in schedule.periods if p.day == day.weekday()):
        start, end = _instant(day, period.open_minute, zone), _instant(day, period.close_minute, zone)
        if end > start:  # a period inside the skipped hour of a clock change is empty
            yield start, end


def open_intervals(schedule: Schedule, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open intervals (UTC) from ``start`` on, in order, disjoint, the first clipped to ``start``. Stops at
    ``HORIZON_DAYS``.

    Touching intervals (17:00-24:00 then 00:00-09:00) are yielded one after the other, not merged: every
    caller reads them as one stretch of open time, and merging would have to look ahead to the horizon
    before yielding anything for a schedule that never closes (open around the clock)."""
    # In UTC throughout: Python subtracts and adds aware datetimes of one zone on the wall clock, which
    # would lose or gain the hour of a clock change.
    start = start.astimezone(UTC)
    zone = schedule.zone
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    current: tuple[datetime, datetime] | None = None
    for offset in range(HORIZON_DAYS + 2):
        for interval_start, interval_end in _day_intervals(schedule, first_day + timedelta(days=offset), zone):
            if current is not None and interval_start < current[1]:
                current = (current[0], max(current[1], interval_end))
                continue
            if current is not None and current[1] > start:
                yield max(current[0], start), current[1]
            current = (interval_start, interval_end)
    if current is not None and current[1] > start:
        yield max(current[0], start), current[1]


def is_open(schedule: Schedule, at: datetime) -> bool:
    interval = next(open_intervals(schedule, at), None)
    return interval is not None and interval[0] <= at.astimezone(UTC)


def next_opening(schedule: Schedule, at: datetime) -> datetime | None:
    """The next instant the workspace opens after ``at`` while closed (``at`` itself when open), or None if it
    never opens within the horizon."""
    interval = next(open_intervals(schedule, at), None)
    return interval[0] if interval is not None else None


def add_business_minutes(schedule: Schedule, start: datetime, minutes: float) -> datetime | None:
    """``start`` plus ``minutes`` of open time (the end of the last minute counted). ``minutes <= 0`` gives
    ``start``. None when the schedule does not hold that much open time within the horizon."""
    if minutes <= 0:
        return start
    start = start.astimezone(UTC)
    remaining = timedelta(minutes=minutes)
    for interval_start, interval_end in open_intervals(schedule, start):
        length = interval_end - interval_start
        if remaining <= length:
            return interval_start + remaining
        remaining -= length
    return None


def business_minutes_between(schedule: Schedule, start: datetime, end: datetime) -> float:
    """Open minutes from ``start`` to ``end`` (0 when ``end <= start``)."""
    total = timedelta()
    if end <= start:
        return 0.0
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    for interval_start, interval_end in open_intervals(schedule, start):
        if interval_start >= end:
            break
        total += min(interval_end, end) - interval_start
    return total / timedelta(minutes=1)


# --- What the customer reads --------------------------------------------------------------------------

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def opening_text(opening: datetime, *, now: datetime, timezone: str) -> str:
    """When the team is back, on the reader's clock (``timezone``): "today at 14:00", "tomorrow at 09:00",
    "Monday at 09:00" within a week, else "on 2 January at 09:00"."""
    zone = ZoneInfo(timezone)
    local, today = opening.astimezone(zone), now.astimezone(zone).date()
    at = f"at {local:%H:%M}"
    days = (local.date() - today).days
    if days <= 0:
        return f"today {at}"
    if days == 1:
        return f"tomorrow {at}"
    if days < 7:
        return f"{_WEEKDAYS[local.weekday()]} {at}"
    return f"on {local.day} {_MONTHS[local.month - 1]} {at}"


def reply_time_text(minutes: float) -> str:
    """A measured typical reply time in words: "in a few minutes", "in about 20 minutes", "in about 2 hours"."""
    if minutes < 5:
        return "in a few minutes"
    if minutes < 55:
        return f"in about {max(5, round(minutes / 5) * 5)} minutes"
    hours = round(minutes / 60)
    return "in about an hour" if hours <= 1 else f"in about {hours} hours"
