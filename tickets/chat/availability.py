"""Is live chat offered now? Inside the organization's opening hours (the business calendar: hours and
holidays, in its time zone) *and* with an agent available (``presence``)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from lumiodesk.calendar.business_time import NoBusinessTime
from lumiodesk.calendar.selectors import calendar_of
from lumiodesk.models import Organization

from . import presence


@dataclass(frozen=True)
class Availability:
    open_now: bool
    agents_online: bool
    next_open: datetime | None  # the next opening (None: open now, or no opening hours at all)

    @property
    def live(self) -> bool:
        return self.open_now and self.agents_online


def availability(organization: Organization, now: datetime | None = None) -> Availability:
    """One query (the calendar) and one Redis GET."""
    now = now or timezone.now()
    calendar = calendar_of(organization.pk)
    open_now = calendar.is_open(now) if calendar.has_hours else False
    next_open = None
    if not open_now and calendar.has_hours:
        try:
            next_open = calendar.next_open(now)
        except NoBusinessTime:
            next_open = None
    return Availability(open_now=open_now, agents_online=presence.agents_online(organization.pk),
                        next_open=next_open)


def local_datetime_text(organization: Organization, instant: datetime) -> str:
    """"lundi 10 mars 2025 à 11:00" in the organization's language and time zone."""
    local = instant.astimezone(zoneinfo.ZoneInfo(organization.time_zone))
    with translation.override(organization.language):
        # Translators: a Django date format (https://docs.djangoproject.com/en/stable/ref/templates/builtins/#date)
        return date_format(local, gettext("l j F Y à H:i"))
