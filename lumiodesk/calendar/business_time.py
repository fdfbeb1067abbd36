"""Business-time arithmetic: every SLA clock, warning and "48 business hours" goes through here.

Pure functions over a :class:`Calendar` (no database): the organization's time zone, its opening hours
per weekday and its holidays. ``sla.selectors.sla_config`` builds the calendar from the database.

Definitions
-----------
- **Business time** is the set of real instants whose *local wall-clock* date and time, in the
  organization's time zone, fall inside that weekday's opening hours on a date that is not a holiday.
  A business hour is a real hour: on a daylight-saving day, hours open across the change count what
  the clock really lasted (an interval 01:00–04:00 lasts 2 h on the spring-forward night in Paris).
  On the fall-back night, wall-clock times that occur twice are business time both times.
- Opening hours are half-open intervals ``[opens, closes)``; ``closes`` may be 24:00 (minute 1440).
  An instant *in hours* (``in_hours``) may also be exactly a closing time: "due at 18:00" is a valid
  due time; an organization *is open* (``is_open``) at 18:00 only if another interval starts then.
- A **business day** is a local calendar date whose weekday has opening hours and that is not a holiday.
  **N business days after t** is the same local wall-clock time, N business days later: start from
  ``t`` (or from the next opening if ``t`` is outside hours), move N business days forward and keep the
  time of day, clamped into that day's hours (before opening: the opening; after closing: the closing;
  in a break: the end of the break). Monday 14:00 + 1 business day = Tuesday 14:00; Friday 14:00 + 1 =
  Monday 14:00; Saturday 10:00 + 1 = Tuesday 09:00 (Monday 09:00 is the start).
- ``add_business(t, d)`` is the earliest instant ``s >= t`` with ``business_between(t, s) == d``:
  so the result is always in hours, and a duration that ends exactly at closing ends at closing
  (09:00 + 9 h = 18:00 the same day, not 09:00 the next day).

Algorithm: split time into stretches of constant UTC offset (found by probing the zone day by day and
bisecting to the second), and within each stretch intersect the local opening intervals of every date
with it. Exact to the microsecond; linear in the number of days spanned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

ZERO = timedelta(0)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
_CHUNK = timedelta(days=7)
# No organization is closed this long; past it the calendar has no business time at all.
HORIZON = timedelta(days=3 * 366)
MAX_BUSINESS_DAYS = 3660

Interval = tuple[int, int]  # (opens, closes) in minutes after local midnight, 0 <= opens < closes <= 1440


class NoBusinessTime(ValueError):
    """The calendar has no opening hours within the horizon: no due time can be computed."""


@dataclass(frozen=True)
class Piece:
    """A stretch of business time: [start, end) in UTC, at one UTC offset, on one local date."""

    start: datetime
    end: datetime
    offset: timedelta
    local_date: date

    def wall(self, instant: datetime) -> timedelta:
        """The local wall-clock time of ``instant`` (inside this piece), as time since local midnight."""
        return (instant + self.offset).replace(tzinfo=None) - datetime.combine(self.local_date, time())


def _normalize(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, merged intervals; empty ones dropped."""
    out: list[list[int]] = []
    for opens, closes in sorted((int(o), int(c)) for o, c in intervals):
        if not 0 <= opens < closes <= 1440:
            if opens == closes:
                continue
            raise ValueError(f"invalid opening interval {opens}-{closes}")
        if out and opens <= out[-1][1]:
            out[-1][1] = max(out[-1][1], closes)
        else:
            out.append([opens, closes])
    return tuple((o, c) for o, c in out)


@dataclass(frozen=True)
class Calendar:
    """An organization's time zone, weekly opening hours (Monday first) and holidays."""

    time_zone: str
    week: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("a week has 7 days")
        object.__setattr__(self, "week", tuple(_normalize(day) for day in self.week))
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    @classmethod
    def default(cls, time_zone: str = "Europe/Paris", holidays: Iterable[date] = ()) -> Calendar:
        """Monday–Friday, 9:00–18:00 (section 13)."""
        day = ((9 * 60, 18 * 60),)
        return cls(time_zone, (day, day, day, day, day, (), ()), frozenset(holidays))

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def has_hours(self) -> bool:
        return any(self.week)

    def is_business_day(self, day: date) -> bool:
        return bool(self.week[day.weekday()]) and day not in self.holidays

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        return self.week[day.weekday()] if day not in self.holidays else ()

    # --- the zone ---------------------------------------------------------------------------------------

    def _offset(self, instant: datetime) -> timedelta:
        return instant.astimezone(self.tz).utcoffset() or ZERO

    def _offset_segments(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime, timedelta]]:
        """[start, end) cut where the zone's UTC offset changes (probed daily, bisected to the microsecond)."""
        t = start
        while t < end:
            off = self._offset(t)
            change = end
            probe = t
            while probe < end:
                nxt = min(probe + DAY, end)
                check = nxt if nxt < end else end - TICK
                if check > probe and self._offset(check) != off:
                    lo, hi = probe, check  # offset(lo) == off != offset(hi)
                    while hi - lo > TICK:
                        mid = lo + (hi - lo) / 2
                        if self._offset(mid) == off:
                            lo = mid
                        else:
                            hi = mid
                    change = hi
                    break
                probe = nxt
            yield t, change, off
            t = change

    # --- business pieces --------------------------------------------------------------------------------

    def pieces(self, start: datetime, end: datetime) -> Iterator[Piece]:
        """The business time inside [start, end), in order."""
        start, end = _utc(start), _utc(end)
        for seg_start, seg_end, off in self._offset_segments(start, end):
            wall_start = (seg_start + off).replace(tzinfo=None)
            wall_end = (seg_end + off).replace(tzinfo=None)
            day = wall_start.date()
            while datetime.combine(day, time()) < wall_end:
                midnight = datetime.combine(day, time())
                for opens, closes in self.hours_on(day):
                    lo = max(midnight + timedelta(minutes=opens), wall_start)
                    hi = min(midnight + timedelta(minutes=closes), wall_end)
                    if lo < hi:
                        yield Piece((lo - off).replace(tzinfo=UTC), (hi - off).replace(tzinfo=UTC), off, day)
                day += DAY

    def _forward(self, start: datetime) -> Iterator[Piece]:
        start = _utc(start)
        if not self.has_hours:
            raise NoBusinessTime("no opening hours")
        t = start
        while t - start < HORIZON:
            yield from self.pieces(t, t + _CHUNK)
            t += _CHUNK
        raise NoBusinessTime("no business time within the horizon")

    def _backward(self, end: datetime) -> Iterator[Piece]:
        end = _utc(end)
        if not self.has_hours:
            raise NoBusinessTime("no opening hours")
        t = end
        while end - t < HORIZON:
            yield from reversed(list(self.pieces(t - _CHUNK, t)))
            t -= _CHUNK
        raise NoBusinessTime("no business time within the horizon")

    # --- questions ----------------------------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        """Open at this instant: inside an interval [opens, closes)."""
        instant = _utc(instant)
        return any(True for _ in self.pieces(instant, instant + TICK))

    def in_hours(self, instant: datetime) -> bool:
        """Open at this instant, or exactly at a closing time."""
        instant = _utc(instant)
        return self.is_open(instant) or self.is_open(instant - TICK)

    def next_open(self, instant: datetime) -> datetime:
        """``instant`` if the organization is open then, else the next opening."""
        return next(self._forward(instant)).start

    def previous_close(self, instant: datetime) -> datetime:
        """``instant`` if it is in hours, else the last closing before it."""
        instant = _utc(instant)
        return instant if self.in_hours(instant) else next(self._backward(instant)).end

    def business_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (negative if ``end`` is before ``start``)."""
        start, end = _utc(start), _utc(end)
        if end < start:
            return -self.business_between(end, start)
        total = ZERO
        for piece in self.pieces(start, end):
            total += piece.end - piece.start
        return total

    def add_business(self, instant: datetime, duration: timedelta) -> datetime:
        """The earliest instant at which ``duration`` of business time has elapsed since ``instant``."""
        instant = _utc(instant)
        if duration < ZERO:
            return self.subtract_business(instant, -duration)
        if duration == ZERO:
            return instant if self.in_hours(instant) else self.next_open(instant)
        left = duration
        for piece in self._forward(instant):
            length = piece.end - piece.start
            if length >= left:
                return piece.start + left
            left -= length
        raise NoBusinessTime("unreachable")  # pragma: no cover - _forward raises first

    def subtract_business(self, instant: datetime, duration: timedelta) -> datetime:
        """The latest instant from which ``duration`` of business time leads to ``instant``."""
        instant = _utc(instant)
        if duration < ZERO:
            return self.add_business(instant, -duration)
        if duration == ZERO:
            return instant if self.in_hours(instant) else self.previous_close(instant)
        left = duration
        for piece in self._backward(instant):
            length = piece.end - piece.start
            if length >= left:
                return piece.end - left
            left -= length
        raise NoBusinessTime("unreachable")  # pragma: no cover

    # --- business days --------------------------------------------------------------------------------

    def _piece_at(self, instant: datetime, *, backward: bool) -> Piece:
        """A piece around an instant that is in hours: the one ending there when counting ``backward``
        (if the instant is not an opening), else the one starting there (if it is not a closing)."""
        ends_here = self.is_open(instant - TICK)
        starts_here = self.is_open(instant)
        if backward and ends_here or not starts_here:
            return next(self._backward(instant))
        return next(self._forward(instant))

    def _nth_business_day(self, day: date, n: int) -> date:
        step = DAY if n >= 0 else -DAY
        left = abs(n)
        for _ in range(MAX_BUSINESS_DAYS * 2):
            if left == 0:
                return day
            day += step
            if self.is_business_day(day):
                left -= 1
        raise NoBusinessTime("no such business day")

    def _at_wall(self, day: date, wall: timedelta, *, backward: bool) -> datetime:
        """The instant of local ``day`` at wall-clock ``wall``, clamped into the day's hours."""
        hours = self.hours_on(day)
        minutes = [(timedelta(minutes=o), timedelta(minutes=c)) for o, c in hours]
        if wall < minutes[0][0]:
            wall = minutes[0][0]
        elif wall > minutes[-1][1]:
            wall = minutes[-1][1]
        else:
            for (_o1, c1), (o2, _c2) in zip(minutes, minutes[1:], strict=False):
                if c1 < wall < o2:
                    wall = c1 if backward else o2
        midnight = datetime.combine(day, time())
        # Pieces of that local date, whatever the offsets of the day.
        lo = (midnight - timedelta(hours=30)).replace(tzinfo=UTC)
        hi = (midnight + timedelta(hours=54)).replace(tzinfo=UTC)
        pieces = [p for p in self.pieces(lo, hi) if p.local_date == day]
        for piece in pieces:
            if piece.wall(piece.end) >= wall:
                start_wall = piece.wall(piece.start)
                return piece.start + (wall - start_wall) if wall >= start_wall else piece.start
        return pieces[-1].end  # pragma: no cover - the wall is clamped into the day's hours

    def add_business_days(self, instant: datetime, days: int) -> datetime:
        """``days`` business days after ``instant`` (see the module's definition)."""
        instant = _utc(instant)
        if days < 0:
            return self.subtract_business_days(instant, -days)
        start = instant if self.in_hours(instant) else self.next_open(instant)
        if days == 0:
            return start
        piece = self._piece_at(start, backward=False)
        day = self._nth_business_day(piece.local_date, days)
        return self._at_wall(day, piece.wall(start), backward=False)

    def subtract_business_days(self, instant: datetime, days: int) -> datetime:
        """``days`` business days before ``instant``: the same wall-clock time, clamped into hours."""
        instant = _utc(instant)
        if days < 0:
            return self.add_business_days(instant, -days)
        start = instant if self.in_hours(instant) else self.previous_close(instant)
        if days == 0:
            return start
        piece = self._piece_at(start, backward=True)
        day = self._nth_business_day(piece.local_date, -days)
        return self._at_wall(day, piece.wall(start), backward=True)


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("business-time arithmetic needs aware datetimes")
    return instant.astimezone(UTC)


# --- targets: "8 business hours", "3 business days" ----------------------------------------------------------


class Unit:
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


def add_target(calendar: Calendar, instant: datetime, amount: int, unit: str) -> datetime:
    """``instant`` + a target of the SLA policy, in business time."""
    if unit == Unit.DAYS:
        return calendar.add_business_days(instant, amount)
    minutes = amount * 60 if unit == Unit.HOURS else amount
    return calendar.add_business(instant, timedelta(minutes=minutes))


def subtract_target(calendar: Calendar, instant: datetime, amount: int, unit: str) -> datetime:
    if unit == Unit.DAYS:
        return calendar.subtract_business_days(instant, amount)
    minutes = amount * 60 if unit == Unit.HOURS else amount
    return calendar.subtract_business(instant, timedelta(minutes=minutes))
