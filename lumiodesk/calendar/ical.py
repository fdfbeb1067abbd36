"""Holidays from an iCalendar file (RFC 5545): the dates of its events.

A deliberately small reader: VEVENTs with DTSTART (a date, or a date-time whose local date is taken),
DTEND (exclusive, for holidays of several days) and SUMMARY; ``RRULE:FREQ=YEARLY`` is expanded over
the years asked for. Anything else in the file is ignored. Public holiday calendars (government
sites, Google, Outlook exports) fit this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

MAX_BYTES = 1024 * 1024
MAX_DAYS_PER_EVENT = 31
MAX_HOLIDAYS = 2000


class ICalError(ValueError):
    pass


@dataclass(frozen=True)
class ImportedHoliday:
    """One date of the file (``lumiodesk.models.Holiday`` is the stored day off)."""

    date: date
    name: str


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw)
    return lines


_PROP = re.compile(r"^(?P<name>[A-Za-z0-9-]+)(?P<params>(?:;[^:]*)?):(?P<value>.*)$")


def _unescape(value: str) -> str:
    return (value.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";")
            .replace("\\\\", "\\")).strip()


def _when(value: str, params: str, tz: ZoneInfo) -> date | datetime:
    value = value.strip()
    try:
        if "VALUE=DATE" in params.upper() and "DATE-TIME" not in params.upper() or len(value) == 8:
            return datetime.strptime(value[:8], "%Y%m%d").date()
        if value.endswith("Z"):
            return datetime.strptime(value[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC).astimezone(tz)
        zone = tz
        m = re.search(r"TZID=([^;:]+)", params, re.I)
        if m:
            try:
                zone = ZoneInfo(m.group(1).strip('"'))
            except (ZoneInfoNotFoundError, ValueError):
                zone = tz
        return datetime.strptime(value[:15], "%Y%m%dT%H%M%S").replace(tzinfo=zone).astimezone(tz)
    except ValueError as exc:
        raise ICalError(f"date illisible : {value}") from exc


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def parse_holidays(data: bytes, *, time_zone: str, years: range) -> list[ImportedHoliday]:
    """The dates the file's events cover, within ``years``, sorted, one per date."""
    if len(data) > MAX_BYTES:
        raise ICalError("fichier trop volumineux (1 Mo au plus)")
    text = data.decode("utf-8-sig", errors="replace")
    if "BEGIN:VCALENDAR" not in text.upper():
        raise ICalError("ce n'est pas un fichier iCalendar (.ics)")
    tz = ZoneInfo(time_zone)
    found: dict[date, str] = {}
    event: dict[str, tuple[str, str]] | None = None
    for line in _unfold(text):
        m = _PROP.match(line)
        if not m:
            continue
        name, params, value = m.group("name").upper(), m.group("params"), m.group("value")
        if name == "BEGIN" and value.upper() == "VEVENT":
            event = {}
        elif name == "END" and value.upper() == "VEVENT" and event is not None:
            for day, summary in _event_days(event, tz, years):
                found.setdefault(day, summary)
                if len(found) > MAX_HOLIDAYS:
                    raise ICalError("trop de dates dans ce fichier")
            event = None
        elif event is not None and name not in event:
            event[name] = (params, value)
    return [ImportedHoliday(d, found[d]) for d in sorted(found)]


def _event_days(event: dict[str, tuple[str, str]], tz: ZoneInfo, years: range):
    if "DTSTART" not in event or event.get("STATUS", ("", ""))[1].upper() == "CANCELLED":
        return
    start = _when(event["DTSTART"][1], event["DTSTART"][0], tz)
    length = 1
    if "DTEND" in event:
        end = _when(event["DTEND"][1], event["DTEND"][0], tz)
        length = (_day(end) - _day(start)).days
        if isinstance(end, datetime) and (end.hour, end.minute, end.second) != (0, 0, 0):
            length += 1  # a timed event ending during a day covers that day
        length = min(max(length, 1), MAX_DAYS_PER_EVENT)
    summary = _unescape(event.get("SUMMARY", ("", ""))[1])[:120]
    starts = [_day(start)]
    if "RRULE" in event:
        first = datetime.combine(_day(start), datetime.min.time())
        until = datetime(years.stop, 1, 1)
        try:
            rule = rrulestr(event["RRULE"][1], dtstart=first, ignoretz=True)
        except (ValueError, TypeError) as exc:
            raise ICalError(f"règle de récurrence illisible : {event['RRULE'][1]}") from exc
        starts = [d.date() for d in rule.between(first, until, inc=True)[:500]]
    for s in starts:
        for i in range(length):
            day = s + timedelta(days=i)
            if day.year in years:
                yield day, summary
