"""The SLA clocks of one ticket: due times, pauses, what is running and when to look again.

Pure functions over the in-memory ticket and its organization's ``SlaConfig`` (no queries); the
receivers in ``sla.receivers`` call them inside the ticket service's transaction and the service saves
the fields they return.

Semantics
---------
- Both clocks start when the ticket is created. First response is met by the first public agent reply;
  resolution by resolving (or closing) the ticket.
- The first-response clock never pauses. It stops counting (no warning, no breach) while the ticket is
  resolved or closed.
- The resolution clock is *stopped* while the ticket is resolved or closed, and — if the organization
  keeps the default setting — while it waits on the customer. When it starts again (customer reply,
  reopening, another status) the business time it was stopped pushes the resolution due time back.
  A clock stopped after its due time was already passed adds nothing: a breach stays a breach.
- A reopened ticket keeps its history: its first response, its due times, its alerts and its outcomes.
- Imported tickets (``imported=True``) have no SLA, nor automatic mail ticketed out of SLA (``out_of_sla``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tickets.models import Status, Ticket

from .business_time import Calendar, NoBusinessTime, add_target, subtract_target
from .config import WARNING_LEADS, Policy, SlaConfig

STOPPED = frozenset({Status.RESOLVED, Status.CLOSED})
FIELDS = frozenset({
    "first_response_due_at", "resolution_due_at", "sla_paused_at", "sla_paused_seconds", "sla_due_at",
    "sla_warn_at", "sla_next_alert_at",
})
FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"


def due_times(config: SlaConfig, priority: str, created_at: datetime) -> tuple[datetime | None, datetime | None]:
    """First-response and resolution due times of a ticket of ``priority`` created at ``created_at``
    (before any pause). The SLA settings preview and ``sla_preview`` use this very function."""
    policy: Policy = config.policy(priority)
    try:
        return (
            add_target(config.calendar, created_at, policy.first_response.amount, policy.first_response.unit),
            add_target(config.calendar, created_at, policy.resolution.amount, policy.resolution.unit),
        )
    except NoBusinessTime:
        return None, None


def warn_at(calendar: Calendar, priority: str, due: datetime) -> datetime:
    """When "SLA soon breached" applies: the priority's lead before ``due``, in business time."""
    lead = WARNING_LEADS[priority]
    try:
        return subtract_target(calendar, due, lead.amount, lead.unit)
    except NoBusinessTime:
        return due


def stop_reason(status: str, config: SlaConfig) -> bool:
    """Whether the resolution clock is stopped in ``status``."""
    return status in STOPPED or (status == Status.WAITING_CUSTOMER and config.pause_when_waiting_customer)


@dataclass(frozen=True)
class Running:
    metric: str
    due: datetime


def running(ticket: Ticket) -> list[Running]:
    """The clocks of the ticket that are running now, with their due times."""
    if ticket.imported or ticket.out_of_sla or ticket.status in STOPPED:
        return []
    out = []
    if ticket.first_response_at is None and ticket.first_response_due_at is not None:
        out.append(Running(FIRST_RESPONSE, ticket.first_response_due_at))
    if ticket.sla_paused_at is None and ticket.resolution_due_at is not None:
        out.append(Running(RESOLUTION, ticket.resolution_due_at))
    return out


def set_due_times(ticket: Ticket, config: SlaConfig) -> None:
    """Due times from the creation instant, the priority and the business time paused so far."""
    first, resolution = due_times(config, ticket.priority, ticket.created_at)
    if resolution is not None and ticket.sla_paused_seconds:
        resolution = config.calendar.add_business(resolution, timedelta(seconds=ticket.sla_paused_seconds))
    ticket.first_response_due_at, ticket.resolution_due_at = first, resolution


def stop_or_start(ticket: Ticket, config: SlaConfig, now: datetime) -> None:
    """After a status change: stop the resolution clock, or start it again and count the pause."""
    stop = stop_reason(ticket.status, config)
    if stop and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    elif not stop and ticket.sla_paused_at is not None:
        paused_at, ticket.sla_paused_at = ticket.sla_paused_at, None
        if ticket.resolution_due_at is not None and paused_at < ticket.resolution_due_at and now > paused_at:
            paused = config.calendar.business_between(paused_at, now)
            ticket.sla_paused_seconds += int(paused.total_seconds())


def next_alert(ticket: Ticket, calendar: Calendar, now: datetime, *, past: bool = True) -> datetime | None:
    """When the SLA scan must look at the ticket: a warning's instant, else a due time.

    ``past=False`` skips the alerts whose time has already come (a backfill, the demo's history):
    only what happens after ``now`` will be told.
    """
    instants = []
    for r in running(ticket):
        warn = warn_at(calendar, ticket.priority, r.due)
        if now < r.due:
            instants.append(warn if past or warn > now else r.due)
        elif past:
            instants.append(r.due)
    return min(instants) if instants else None


def derive(ticket: Ticket, config: SlaConfig, now: datetime, *, past_alerts: bool = True) -> None:
    """The fields the list and the scan read, from the ticket's clocks."""
    clocks = running(ticket)
    ticket.sla_due_at = min((r.due for r in clocks), default=None)
    ticket.sla_warn_at = warn_at(config.calendar, ticket.priority, ticket.sla_due_at) if ticket.sla_due_at else None
    ticket.sla_next_alert_at = next_alert(ticket, config.calendar, now, past=past_alerts)


def business_seconds(calendar: Calendar, start: datetime, end: datetime) -> int:
    return max(int(calendar.business_between(start, end).total_seconds()), 0)
