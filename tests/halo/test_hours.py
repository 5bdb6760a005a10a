"""The business-hours arithmetic (``halo.hours``): table tests on known weeks, the clock changes of
Europe/Berlin, holidays, and properties that must hold for every schedule and instant."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halo.hours import (
    ALWAYS_OPEN_PERIODS,
    Period,
    Schedule,
    add_business_minutes,
    business_minutes_between,
    is_open,
    minute_of_day,
    next_opening,
    open_intervals,
    opening_text,
    periods_overlapping,
    reply_time_text,
)
from tests.support.office import BERLIN, berlin


def weekdays(open_text: str = "09:00", close_text: str = "17:30", days: range = range(5)) -> tuple[Period, ...]:
    return tuple(Period(day, minute_of_day(open_text), minute_of_day(close_text)) for day in days)


OFFICE = Schedule(timezone="Europe/Berlin", periods=weekdays())


def test_open_inside_hours_and_closed_outside() -> None:
    assert is_open(OFFICE, berlin(2026, 12, 7, 9, 0))  # a Monday, at opening
    assert is_open(OFFICE, berlin(2026, 12, 7, 17, 29))
    assert not is_open(OFFICE, berlin(2026, 12, 7, 17, 30))  # closing time is closed
    assert not is_open(OFFICE, berlin(2026, 12, 5, 12, 0))  # Saturday


def test_next_opening_after_a_friday_evening_is_monday_morning() -> None:
    assert next_opening(OFFICE, berlin(2026, 12, 4, 18, 0)) == berlin(2026, 12, 7, 9, 0)


def test_adding_business_minutes_carries_over_the_weekend() -> None:
    # Friday 16:30 + 2 business hours: one hour on Friday, one on Monday.
    assert add_business_minutes(OFFICE, berlin(2026, 12, 4, 16, 30), 120) == berlin(2026, 12, 7, 10, 0)


def test_holidays_are_closed() -> None:
    christmas = Schedule(
        timezone="Europe/Berlin", periods=weekdays(), closed_dates=frozenset({date(2026, 12, 24), date(2026, 12, 25)})
    )
    assert not is_open(christmas, berlin(2026, 12, 24, 10, 0))
    assert next_opening(christmas, berlin(2026, 12, 23, 18, 0)) == berlin(2026, 12, 28, 9, 0)


def test_spring_forward_day_is_23_hours_long() -> None:
    # Europe/Berlin: the clocks go forward on the last Sunday of March (29 March 2026, 02:00 → 03:00).
    always = Schedule(timezone="Europe/Berlin", periods=ALWAYS_OPEN_PERIODS)
    start, end = berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0)
    assert business_minutes_between(always, start, end) == 23 * 60
    assert add_business_minutes(always, start, 23 * 60) == end


def test_fall_back_day_is_25_hours_long() -> None:
    # The clocks go back on the last Sunday of October (25 October 2026, 03:00 → 02:00).
    always = Schedule(timezone="Europe/Berlin", periods=ALWAYS_OPEN_PERIODS)
    start, end = berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0)
    assert business_minutes_between(always, start, end) == 25 * 60


def test_an_always_open_schedule_is_read_one_day_at_a_time() -> None:
    # Every widget handoff asks whether the team is open and when the first reply is due: the answer must not
    # wait for the arithmetic to walk the whole horizon of a schedule that never closes.
    always = Schedule(timezone="Europe/Berlin", periods=ALWAYS_OPEN_PERIODS)
    at = berlin(2026, 12, 5, 21, 40)
    first_start, first_end = next(open_intervals(always, at))
    assert first_start == at.astimezone(UTC)
    assert first_end == berlin(2026, 12, 6, 0, 0)
    assert is_open(always, at)
    assert add_business_minutes(always, at, 3 * 24 * 60) == at + timedelta(days=3)


def test_opening_is_local_wall_time_on_both_sides_of_the_clock_change() -> None:
    # Friday before the change at 17:00 + 60 business minutes lands on Monday at 09:30 local: 07:30 UTC in
    # summer time, where the Friday was 16:00 UTC in winter time.
    schedule = Schedule(timezone="Europe/Berlin", periods=weekdays())
    due = add_business_minutes(schedule, berlin(2026, 3, 27, 17, 0), 60)
    assert due == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert due is not None
    assert due.astimezone(BERLIN).hour == 9


def test_a_schedule_that_never_opens_gives_none() -> None:
    closed = Schedule(timezone="UTC", periods=(Period(0, 540, 600),), closed_dates=frozenset())
    every_monday = frozenset(date(2026, 12, 7) + timedelta(weeks=n) for n in range(200))
    never = Schedule(timezone="UTC", periods=closed.periods, closed_dates=every_monday)
    assert next_opening(never, datetime(2026, 12, 6, tzinfo=UTC)) is None
    assert add_business_minutes(never, datetime(2026, 12, 6, tzinfo=UTC), 1) is None


@pytest.mark.parametrize("text", ["9:00", "24:01", "25:00", "12:60", "", "noon", "12:00:00"])
def test_bad_times_of_day_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        minute_of_day(text)


def test_overlapping_periods_are_found() -> None:
    assert periods_overlapping([Period(0, 540, 720), Period(0, 700, 800), Period(1, 0, 60)]) == [
        (Period(0, 540, 720), Period(0, 700, 800))
    ]
    assert periods_overlapping([Period(0, 540, 720), Period(0, 720, 800)]) == []  # touching is fine


@pytest.mark.parametrize(
    ("opening", "now", "timezone", "text"),
    [
        (berlin(2026, 12, 7, 9, 0), berlin(2026, 12, 4, 18, 0), "Europe/Berlin", "Monday at 09:00"),
        (berlin(2026, 12, 7, 9, 0), berlin(2026, 12, 6, 18, 0), "Europe/Berlin", "tomorrow at 09:00"),
        (berlin(2026, 12, 7, 9, 0), berlin(2026, 12, 7, 6, 0), "Europe/Berlin", "today at 09:00"),
        # The visitor's own clock: 09:00 in Berlin is 03:00 in New York.
        (berlin(2026, 12, 7, 9, 0), berlin(2026, 12, 4, 18, 0), "America/New_York", "Monday at 03:00"),
        (berlin(2027, 1, 4, 9, 0), berlin(2026, 12, 23, 18, 0), "Europe/Berlin", "on 4 January at 09:00"),
    ],
)
def test_opening_text_is_in_the_readers_terms(opening: datetime, now: datetime, timezone: str, text: str) -> None:
    assert opening_text(opening, now=now, timezone=timezone) == text


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(2, "in a few minutes"), (12, "in about 10 minutes"), (52, "in about 50 minutes"), (70, "in about an hour")],
)
def test_reply_time_text(minutes: float, text: str) -> None:
    assert reply_time_text(minutes) == text


# --- Properties ----------------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"]


@st.composite
def periods_of_a_day(draw: st.DrawFn, day: int) -> list[Period]:
    cuts = sorted(draw(st.sets(st.integers(0, 48), max_size=6)))  # half-hour marks
    cuts = cuts[: len(cuts) - len(cuts) % 2]
    return [Period(day, cuts[i] * 30, cuts[i + 1] * 30) for i in range(0, len(cuts), 2) if cuts[i] < cuts[i + 1]]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    periods = [period for day in range(7) for period in draw(periods_of_a_day(day))]
    if not periods:
        periods = [Period(draw(st.integers(0, 6)), 540, 1020)]
    closed = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=20))
    return Schedule(timezone=draw(st.sampled_from(ZONES)), periods=tuple(periods), closed_dates=closed)


# Instants around the clock changes of 2026 and 2027 as often as anywhere else.
instants = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 1), timezones=st.just(UTC)),
    st.sampled_from([datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 10, 24, 23, tzinfo=UTC)]).map(
        lambda base: base
    ),
    st.integers(0, 48 * 60).map(lambda m: datetime(2026, 3, 28, 12, tzinfo=UTC) + timedelta(minutes=m)),
    st.integers(0, 48 * 60).map(lambda m: datetime(2026, 10, 24, 12, tzinfo=UTC) + timedelta(minutes=m)),
)
minutes = st.integers(0, 5 * 24 * 60)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(schedules(), instants)
def test_open_intervals_are_ordered_disjoint_and_non_empty(schedule: Schedule, start: datetime) -> None:
    previous_end = None
    for count, (interval_start, interval_end) in enumerate(open_intervals(schedule, start)):
        assert interval_start < interval_end
        assert interval_start >= start
        if previous_end is not None:
            assert interval_start >= previous_end
        previous_end = interval_end
        if count > 30:
            break


@FAST
@given(schedules(), instants, minutes, minutes)
def test_adding_is_monotonic(schedule: Schedule, start: datetime, a: int, b: int) -> None:
    low, high = sorted((a, b))
    first, second = add_business_minutes(schedule, start, low), add_business_minutes(schedule, start, high)
    assert first is not None
    assert second is not None
    assert start <= first <= second


@FAST
@given(schedules(), instants, st.integers(1, 5 * 24 * 60))
def test_adding_never_lands_in_a_closed_period(schedule: Schedule, start: datetime, amount: int) -> None:
    due = add_business_minutes(schedule, start, amount)
    assert due is not None
    # The last minute counted was open: the instant just before the result is inside hours.
    assert is_open(schedule, due - timedelta(seconds=1))


@FAST
@given(schedules(), instants, minutes, minutes)
def test_adding_a_then_b_is_adding_a_plus_b(schedule: Schedule, start: datetime, a: int, b: int) -> None:
    step = add_business_minutes(schedule, start, a)
    assert step is not None
    assert add_business_minutes(schedule, step, b) == add_business_minutes(schedule, start, a + b)


@FAST
@given(schedules(), instants, minutes)
def test_minutes_between_undoes_adding(schedule: Schedule, start: datetime, amount: int) -> None:
    due = add_business_minutes(schedule, start, amount)
    assert due is not None
    assert business_minutes_between(schedule, start, due) == pytest.approx(amount)


@FAST
@given(schedules(), instants)
def test_next_opening_is_open_and_nothing_before_it_is(schedule: Schedule, at: datetime) -> None:
    opening = next_opening(schedule, at)
    assert opening is not None
    assert opening >= at
    assert is_open(schedule, opening)
    if opening > at:
        assert not is_open(schedule, at)
        assert not is_open(schedule, opening - timedelta(seconds=1))
