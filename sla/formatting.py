"""How business durations and due times read in the console, the notifications and the reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _


def duration(value: timedelta | float | int | None) -> str:
    """A business duration: "45 min", "3 h 05", "41 h" (business hours, never days: a business day's
    length depends on the day)."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    minutes = int(abs(seconds) // 60)
    hours, rest = divmod(minutes, 60)
    if hours == 0:
        return _("%(m)s min") % {"m": rest}
    if rest == 0 or hours >= 10:
        return _("%(h)s h") % {"h": hours}
    return _("%(h)s h %(m)02d") % {"h": hours, "m": rest}


def local(instant: datetime | None, time_zone: str) -> str:
    if instant is None:
        return "—"
    return instant.astimezone(ZoneInfo(time_zone)).strftime("%d/%m/%Y %H:%M")
