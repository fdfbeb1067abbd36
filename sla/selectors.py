"""Reads of the sla app: what the console shows of a ticket's clocks, the settings page, the reports.

The ticket list and page call ``sla_statuses`` / ``ticket_clocks`` (a page may show read-only data of
several apps): one query for the organization's calendar, then arithmetic in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lumiodesk.calendar.business_time import Calendar
from lumiodesk.models import BusinessHours, Holiday, Organization, Weekday
from tickets.models import Priority, Ticket

from . import clock
from .config import DEFAULT_POLICIES, WARNING_LEADS, SlaConfig, sla_config
from .formatting import duration
from .models import SlaPolicy, SlaReport, SlaSettings, TargetUnit

RUNNING, SOON, OVERDUE, PAUSED, MET, LATE, NONE = "running", "soon", "overdue", "paused", "met", "late", "none"


@dataclass(frozen=True)
class SlaStatus:
    """One clock as the console shows it."""

    state: str
    label: str  # "2 h 15", "en retard de 40 min", "en pause"
    metric_label: str = ""
    due: datetime | None = None

    @property
    def css(self) -> str:
        return f"sla-{self.state}"


_NONE = SlaStatus(NONE, "—")


def _metric_label(metric: str) -> str:
    return _("1re réponse") if metric == clock.FIRST_RESPONSE else _("Résolution")


def _running(calendar: Calendar, due: datetime, warn: datetime | None, now: datetime, metric: str) -> SlaStatus:
    if now >= due:
        return SlaStatus(OVERDUE, _("en retard de %(d)s") % {"d": duration(calendar.business_between(due, now))},
                         _metric_label(metric), due)
    state = SOON if warn is not None and now >= warn else RUNNING
    return SlaStatus(state, duration(calendar.business_between(now, due)), _metric_label(metric), due)


def list_status(ticket: Ticket, calendar: Calendar, now: datetime) -> SlaStatus:
    """The list's SLA column: the nearest running clock, or why none runs."""
    if ticket.imported or ticket.resolution_due_at is None:
        return _NONE
    if ticket.sla_due_at is not None:
        metric = (clock.FIRST_RESPONSE if ticket.first_response_at is None
                  and ticket.sla_due_at == ticket.first_response_due_at else clock.RESOLUTION)
        return _running(calendar, ticket.sla_due_at, ticket.sla_warn_at, now, metric)
    if ticket.status in clock.STOPPED:
        if ticket.sla_paused_at is not None and ticket.sla_paused_at <= ticket.resolution_due_at:
            return SlaStatus(MET, _("respecté"), _metric_label(clock.RESOLUTION), ticket.resolution_due_at)
        return SlaStatus(LATE, _("dépassé"), _metric_label(clock.RESOLUTION), ticket.resolution_due_at)
    if ticket.sla_paused_at is not None:
        return _paused(ticket, calendar)
    return _NONE


def _paused(ticket: Ticket, calendar: Calendar) -> SlaStatus:
    left = calendar.business_between(ticket.sla_paused_at, ticket.resolution_due_at)
    label = _("en pause (reste %(d)s)") % {"d": duration(left)} if left.total_seconds() > 0 else _("en pause")
    return SlaStatus(PAUSED, label, _metric_label(clock.RESOLUTION), ticket.resolution_due_at)


def sla_statuses(organization: Organization, tickets: Iterable[Ticket], now: datetime,
                 config: SlaConfig | None = None) -> dict[int, SlaStatus]:
    """The SLA column of a page of tickets, in one query (the calendar)."""
    tickets = list(tickets)
    if not tickets:
        return {}
    calendar = (config or sla_config(organization.pk)).calendar
    return {t.pk: list_status(t, calendar, now) for t in tickets}


@dataclass(frozen=True)
class ClockPanel:
    """A clock on the ticket page: its due time and where it stands."""

    metric_label: str
    due: datetime | None
    status: SlaStatus
    done_at: datetime | None = None


def ticket_clocks(ticket: Ticket, now: datetime, config: SlaConfig | None = None) -> dict:
    """Both clocks of the ticket page, the calendar they run on and the policy's targets."""
    if ticket.imported or ticket.first_response_due_at is None:
        return {"clocks": [], "imported": ticket.imported}
    config = config or sla_config(ticket.organization_id)
    cal = config.calendar
    clocks: list[ClockPanel] = []

    fr_due = ticket.first_response_due_at
    if ticket.first_response_at is not None:
        ok = ticket.first_response_at <= fr_due
        status = SlaStatus(MET if ok else LATE, _("respectée") if ok else _("dépassée"))
        clocks.append(ClockPanel(_("Première réponse"), fr_due, status, ticket.first_response_at))
    elif ticket.status in clock.STOPPED:
        clocks.append(ClockPanel(_("Première réponse"), fr_due, SlaStatus(NONE, _("sans réponse publique"))))
    else:
        warn = clock.warn_at(cal, ticket.priority, fr_due)
        clocks.append(ClockPanel(_("Première réponse"), fr_due, _running(cal, fr_due, warn, now, clock.FIRST_RESPONSE)))

    res_due = ticket.resolution_due_at
    if ticket.status in clock.STOPPED:
        stopped = ticket.sla_paused_at or ticket.resolved_at
        ok = stopped is not None and stopped <= res_due
        status = SlaStatus(MET if ok else LATE, _("respectée") if ok else _("dépassée"))
        clocks.append(ClockPanel(_("Résolution"), res_due, status, ticket.resolved_at))
    elif ticket.sla_paused_at is not None:
        clocks.append(ClockPanel(_("Résolution"), res_due, _paused(ticket, cal), ticket.sla_paused_at))
    else:
        warn = clock.warn_at(cal, ticket.priority, res_due)
        clocks.append(ClockPanel(_("Résolution"), res_due, _running(cal, res_due, warn, now, clock.RESOLUTION)))
    return {
        "clocks": clocks,
        "time_zone": cal.time_zone,
        "paused_seconds": ticket.sla_paused_seconds,
        "pause_setting": config.pause_when_waiting_customer,
    }


# --- the settings page --------------------------------------------------------------------------------------


def business_hours(organization: Organization) -> list[BusinessHours]:
    rows = {h.weekday: h for h in BusinessHours.objects.filter(organization=organization)}
    return [rows.get(d) or BusinessHours(organization=organization, weekday=d, is_open=d < 5) for d in Weekday.values]


def holidays(organization: Organization) -> QuerySet[Holiday]:
    return Holiday.objects.filter(organization=organization).order_by("date")


def policies(organization: Organization) -> list[SlaPolicy]:
    rows = {p.priority: p for p in SlaPolicy.objects.filter(organization=organization)}
    out = []
    for priority in reversed(Priority.values):  # urgent first
        row = rows.get(priority)
        if row is None:
            d = DEFAULT_POLICIES[priority]
            row = SlaPolicy(organization=organization, priority=priority,
                            first_response_amount=d.first_response.amount, first_response_unit=d.first_response.unit,
                            resolution_amount=d.resolution.amount, resolution_unit=d.resolution.unit)
        out.append(row)
    return out


def target_label(amount: int, unit: str) -> str:
    if unit == TargetUnit.DAYS:
        return ngettext("%(n)s jour ouvré", "%(n)s jours ouvrés", amount) % {"n": amount}
    if unit == TargetUnit.HOURS:
        return ngettext("%(n)s heure ouvrée", "%(n)s heures ouvrées", amount) % {"n": amount}
    return ngettext("%(n)s minute ouvrée", "%(n)s minutes ouvrées", amount) % {"n": amount}


def warning_leads() -> list[tuple[str, str]]:
    return [(Priority(p).label, target_label(WARNING_LEADS[p].amount, WARNING_LEADS[p].unit))
            for p in reversed(Priority.values)]


def pause_setting(organization: Organization) -> bool:
    row = SlaSettings.objects.filter(organization=organization).first()
    return True if row is None else row.pause_when_waiting_customer


def reports(organization: Organization) -> QuerySet[SlaReport]:
    return SlaReport.objects.filter(organization=organization).select_related("created_by").order_by("-created_at")

