"""An organization's business calendar, read from the database in one query.

An organization without opening-hours rows (it cannot happen once created; the default rows are made with
it) counts Monday–Friday 9:00–18:00.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

from django.db import connection

from .business_time import Calendar

DEFAULT_OPENS, DEFAULT_CLOSES = time(9, 0), time(18, 0)
DEFAULT_OPEN_DAYS = range(5)  # Monday to Friday

Week = tuple[tuple[tuple[int, int], ...], ...]

_SQL = """
SELECT o.id, o.time_zone,
    (SELECT json_agg(json_build_array(h.weekday, h.is_open, h.opens, h.closes))
       FROM sla_businesshours h WHERE h.organization_id = o.id),
    (SELECT json_agg(d.date) FROM sla_holiday d WHERE d.organization_id = o.id)
FROM lumiodesk_organization o
WHERE o.id = ANY(%s)
"""


def _minutes(value: str) -> int:
    t = time.fromisoformat(value)
    return t.hour * 60 + t.minute


def week_from_rows(rows) -> Week:
    """Opening intervals per weekday from ``[weekday, is_open, "HH:MM:SS", "HH:MM:SS"]`` rows (as JSON)."""
    if not rows:
        default = ((DEFAULT_OPENS.hour * 60 + DEFAULT_OPENS.minute, DEFAULT_CLOSES.hour * 60),)
        return tuple(default if d in DEFAULT_OPEN_DAYS else () for d in range(7))
    week: list[tuple[tuple[int, int], ...]] = [()] * 7
    for weekday, is_open, opens, closes in rows:
        if is_open:
            end = _minutes(closes) or 1440
            week[weekday] = ((_minutes(opens), end),)
    return tuple(week)


def calendar_from_rows(time_zone: str, hours, holidays) -> Calendar:
    return Calendar(time_zone, week_from_rows(hours), frozenset(date.fromisoformat(d) for d in holidays or ()))


def calendars(organization_ids: Iterable[int]) -> dict[int, Calendar]:
    """The calendars of these organizations, in one query."""
    ids = sorted(set(organization_ids))
    if not ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(_SQL, [ids])
        return {org_id: calendar_from_rows(tz, hours, holidays) for org_id, tz, hours, holidays in cur.fetchall()}


def calendar_of(organization_id: int) -> Calendar:
    return calendars([organization_id])[organization_id]
