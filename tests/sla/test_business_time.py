"""sla.business_time: examples, then properties checked against a slow minute-by-minute reference.

The reference knows nothing but the definition: a minute is business time if its local wall-clock
date and time (zoneinfo) fall inside that weekday's opening hours on a non-holiday date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sla.business_time import Calendar, NoBusinessTime, Unit, add_target, subtract_target

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def local(instant: datetime, tz=PARIS) -> str:
    return instant.astimezone(tz).isoformat()


# --- examples ---------------------------------------------------------------------------------------------

DEFAULT = Calendar.default()


@pytest.mark.parametrize(
    "start, hours, expected",
    [
        (paris(2025, 3, 10, 9), 9, "2025-03-10T18:00:00+01:00"),  # ends at closing, not next morning
        (paris(2025, 3, 10, 17), 2, "2025-03-11T10:00:00+01:00"),
        (paris(2025, 3, 14, 17), 2, "2025-03-17T10:00:00+01:00"),  # over the weekend
        (paris(2025, 3, 8, 10), 0.5, "2025-03-10T09:30:00+01:00"),  # created on Saturday
        (paris(2025, 3, 10, 7), 1, "2025-03-10T10:00:00+01:00"),  # before opening
        (paris(2025, 3, 10, 20), 1, "2025-03-11T10:00:00+01:00"),  # after closing
        (paris(2025, 3, 28, 17), 2, "2025-03-31T10:00:00+02:00"),  # across the spring-forward weekend
    ],
)
def test_add_business_hours(start, hours, expected):
    assert local(DEFAULT.add_business(start, timedelta(hours=hours))) == expected


@pytest.mark.parametrize(
    "start, days, expected",
    [
        (paris(2025, 3, 10, 14), 1, "2025-03-11T14:00:00+01:00"),
        (paris(2025, 3, 14, 14), 1, "2025-03-17T14:00:00+01:00"),
        (paris(2025, 3, 8, 10), 1, "2025-03-11T09:00:00+01:00"),  # Saturday: starts Monday 09:00
        (paris(2025, 3, 10, 20), 3, "2025-03-14T09:00:00+01:00"),
        (paris(2025, 3, 10, 18), 1, "2025-03-11T18:00:00+01:00"),
        (paris(2025, 3, 27, 10), 3, "2025-04-01T10:00:00+02:00"),  # same wall-clock time after DST
    ],
)
def test_add_business_days(start, days, expected):
    assert local(DEFAULT.add_business_days(start, days)) == expected


def test_holidays_are_skipped():
    cal = Calendar.default(holidays=[date(2025, 5, 1), date(2025, 5, 2)])  # Thursday and Friday
    assert local(cal.add_business(paris(2025, 4, 30, 17), timedelta(hours=2))) == "2025-05-05T10:00:00+02:00"
    assert local(cal.add_business_days(paris(2025, 4, 30, 11), 1)) == "2025-05-05T11:00:00+02:00"
    assert cal.business_between(paris(2025, 4, 30, 18), paris(2025, 5, 5, 9)) == timedelta(0)
    assert not cal.is_business_day(date(2025, 5, 1))


def test_hours_that_differ_per_day_and_a_lunch_break():
    friday = ((9 * 60, 12 * 60),)
    weekday = ((9 * 60, 12 * 60), (14 * 60, 18 * 60))
    cal = Calendar("Europe/Paris", (weekday, weekday, weekday, weekday, friday, (), ()))
    assert local(cal.add_business(paris(2025, 3, 10, 11), timedelta(hours=2))) == "2025-03-10T15:00:00+01:00"
    assert local(cal.add_business(paris(2025, 3, 14, 11), timedelta(hours=2))) == "2025-03-17T10:00:00+01:00"
    # 17:00 on Thursday + 1 business day: Friday closes at 12:00.
    assert local(cal.add_business_days(paris(2025, 3, 13, 17), 1)) == "2025-03-14T12:00:00+01:00"
    # 13:00 on Monday is in the break: the day count starts at 14:00.
    assert local(cal.add_business_days(paris(2025, 3, 10, 13), 1)) == "2025-03-11T14:00:00+01:00"
    assert cal.business_between(paris(2025, 3, 10, 0), paris(2025, 3, 11, 0)) == timedelta(hours=7)


def test_daylight_saving_days_last_what_the_clock_says():
    always = Calendar("Europe/Paris", tuple([((0, 1440),)] * 7))
    assert always.business_between(paris(2025, 3, 30), paris(2025, 3, 31)) == timedelta(hours=23)
    assert always.business_between(paris(2025, 10, 26), paris(2025, 10, 27)) == timedelta(hours=25)
    night = Calendar("America/New_York", tuple([((60, 240),)] * 7))  # 01:00-04:00
    spring = datetime(2025, 3, 9, tzinfo=NEW_YORK)
    assert night.business_between(spring, spring + timedelta(days=1)) == timedelta(hours=2)
    fall = datetime(2025, 11, 2, tzinfo=NEW_YORK)
    assert night.business_between(fall, fall + timedelta(days=1)) == timedelta(hours=4)
    # 02:30 does not exist on 30 March in Paris: the day count lands when the clock reaches it.
    assert local(always.add_business_days(paris(2025, 3, 29, 2, 30), 1)) == "2025-03-30T03:00:00+02:00"


def test_subtracting():
    assert local(DEFAULT.subtract_business(paris(2025, 3, 10, 10), timedelta(hours=2))) == "2025-03-07T17:00:00+01:00"
    assert local(DEFAULT.subtract_business_days(paris(2025, 3, 10, 9, 30), 1)) == "2025-03-07T09:30:00+01:00"
    assert local(DEFAULT.subtract_business_days(paris(2025, 3, 9, 12), 1)) == "2025-03-06T18:00:00+01:00"
    assert DEFAULT.business_between(paris(2025, 3, 10, 10), paris(2025, 3, 7, 17)) == -timedelta(hours=2)


def test_open_and_in_hours():
    assert DEFAULT.is_open(paris(2025, 3, 10, 9))
    assert not DEFAULT.is_open(paris(2025, 3, 10, 18))
    assert DEFAULT.in_hours(paris(2025, 3, 10, 18))
    assert not DEFAULT.in_hours(paris(2025, 3, 8, 12))
    assert local(DEFAULT.next_open(paris(2025, 3, 8, 12))) == "2025-03-10T09:00:00+01:00"
    assert local(DEFAULT.previous_close(paris(2025, 3, 8, 12))) == "2025-03-07T18:00:00+01:00"


def test_targets():
    created = paris(2025, 3, 10, 17)
    assert local(add_target(DEFAULT, created, 30, Unit.MINUTES)) == "2025-03-10T17:30:00+01:00"
    assert local(add_target(DEFAULT, created, 8, Unit.HOURS)) == "2025-03-11T16:00:00+01:00"
    assert local(add_target(DEFAULT, created, 3, Unit.DAYS)) == "2025-03-13T17:00:00+01:00"
    assert local(subtract_target(DEFAULT, created, 1, Unit.DAYS)) == "2025-03-07T17:00:00+01:00"


def test_a_calendar_without_hours_has_no_business_time():
    closed = Calendar("Europe/Paris", ((),) * 7)
    with pytest.raises(NoBusinessTime):
        closed.add_business(paris(2025, 3, 10, 9), timedelta(hours=1))
    every_day_holiday = Calendar.default(holidays=[date(2025, 1, 1) + timedelta(days=i) for i in range(1200)])
    with pytest.raises(NoBusinessTime):
        every_day_holiday.add_business_days(paris(2025, 1, 1), 1)
    assert closed.business_between(paris(2025, 3, 10), paris(2025, 3, 17)) == timedelta(0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        DEFAULT.add_business(datetime(2025, 3, 10, 9), timedelta(hours=1))


# --- the reference ------------------------------------------------------------------------------------------


def ref_business_minute(cal: Calendar, minute: datetime) -> bool:
    wall = minute.astimezone(cal.tz)
    if wall.date() in cal.holidays:
        return False
    m = wall.hour * 60 + wall.minute
    return any(o <= m < c for o, c in cal.week[wall.weekday()])


def ref_between(cal: Calendar, start: datetime, end: datetime) -> int:
    n, m = 0, start
    while m < end:
        n += ref_business_minute(cal, m)
        m += MINUTE
    return n


def ref_add(cal: Calendar, start: datetime, minutes: int, limit: int = 200_000) -> datetime | None:
    count, m = 0, start
    for _ in range(limit):
        if ref_business_minute(cal, m):
            count += 1
            if count == minutes:
                return m + MINUTE
        m += MINUTE
    return None


ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"]
# DST changes of the zones above, around which most start instants are drawn.
TRANSITIONS = [
    datetime(2024, 3, 10, 7, tzinfo=UTC), datetime(2024, 3, 31, 1, tzinfo=UTC),
    datetime(2024, 10, 27, 1, tzinfo=UTC), datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 3, 30, 1, tzinfo=UTC),
    datetime(2025, 4, 5, 15, tzinfo=UTC), datetime(2025, 10, 4, 15, tzinfo=UTC),
    datetime(2025, 10, 26, 1, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC),
]
EDGES = [0, 60, 90, 120, 150, 180, 540, 720, 840, 1080, 1380, 1440]


@st.composite
def intervals(draw):
    n = draw(st.integers(0, 2))
    points = sorted(draw(st.lists(st.one_of(st.sampled_from(EDGES), st.integers(0, 1440)),
                                  min_size=2 * n, max_size=2 * n, unique=True)))
    return tuple((points[i], points[i + 1]) for i in range(0, len(points), 2))


@st.composite
def calendars(draw):
    tz = draw(st.sampled_from(ZONES))
    week = tuple(draw(intervals()) for _ in range(7))
    assume(sum(c - o for day in week for o, c in day) >= 120)
    base = date(2024, 3, 1)
    holidays = draw(st.frozensets(st.builds(lambda d: base + timedelta(days=d), st.integers(0, 640)), max_size=25))
    return Calendar(tz, week, holidays)


instants = st.builds(
    lambda t, minutes: t + timedelta(minutes=minutes),
    st.sampled_from(TRANSITIONS),
    st.integers(-4 * 1440, 2 * 1440),
)

PROPERTY = settings(max_examples=120, deadline=None)


@PROPERTY
@given(calendars(), instants, st.integers(1, 4000))
def test_add_then_measure_gives_the_duration_back(cal, start, minutes):
    end = cal.add_business(start, timedelta(minutes=minutes))
    assert cal.business_between(start, end) == timedelta(minutes=minutes)
    assert end > start
    assert cal.in_hours(end)


@PROPERTY
@given(calendars(), instants, st.integers(1, 3000))
def test_add_agrees_with_the_reference(cal, start, minutes):
    expected = ref_add(cal, start, minutes)
    assume(expected is not None)
    assert cal.add_business(start, timedelta(minutes=minutes)) == expected


@PROPERTY
@given(calendars(), instants, st.integers(0, 4 * 1440))
def test_between_agrees_with_the_reference(cal, start, minutes):
    end = start + timedelta(minutes=minutes)
    assert cal.business_between(start, end) == timedelta(minutes=ref_between(cal, start, end))


@PROPERTY
@given(calendars(), instants, st.integers(1, 4000))
def test_subtract_then_measure_gives_the_duration_back(cal, end, minutes):
    start = cal.subtract_business(end, timedelta(minutes=minutes))
    assert cal.business_between(start, end) == timedelta(minutes=minutes)
    assert cal.in_hours(start)
    assert ref_business_minute(cal, start)  # the first minute counted is business time


@PROPERTY
@given(calendars(), instants, st.integers(0, 8))
def test_business_days_land_in_hours_on_the_nth_business_day(cal, start, days):
    end = cal.add_business_days(start, days)
    assert cal.in_hours(end)
    assert end >= start
    first = cal.next_open(start) if not cal.in_hours(start) else start
    if days:
        assert end > first
        assert cal.add_business_days(start, days + 1) > end
    # Counted in local dates, the result is ``days`` business days after the start's date
    # (a start at 24:00 belongs to the day it closes).
    start_day = (first - timedelta(microseconds=1) if not cal.is_open(first) else first).astimezone(cal.tz).date()
    end_day = (end - timedelta(microseconds=1) if not cal.is_open(end) else end).astimezone(cal.tz).date()
    between = sum(
        cal.is_business_day(start_day + timedelta(days=i)) for i in range(1, (end_day - start_day).days + 1)
    )
    assert between == days


@PROPERTY
@given(calendars(), instants, st.integers(0, 8))
def test_business_days_backwards_land_in_hours(cal, start, days):
    end = cal.subtract_business_days(start, days)
    assert cal.in_hours(end)
    assert end <= start
