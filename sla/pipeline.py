"""The SLA step of the ticket pipeline (``tickets.pipeline``, first step): the due times, pauses and outcomes.

It runs inside the ticket service's transaction, before the save, and returns the fields it set; the service
saves them with the change. It runs first, so the creation rules see the due times.
"""

from __future__ import annotations

from tickets.models import MessageKind, Ticket
from tickets.pipeline import ChangeKind as Change
from tickets.pipeline import TicketChange

from . import clock, outcomes
from .config import sla_config

# What a priority change may read stale from the view's copy of the ticket (set_priority takes no lock).
_STATE = ("status", "created_at", "first_response_at", "sla_paused_at", "sla_paused_seconds", "imported",
          "out_of_sla")


def stamp_due_times(c: TicketChange) -> set[str]:
    ticket, change, now, actor, old, new, message = c.ticket, c.kind, c.now, c.actor, c.old, c.new, c.message
    if ticket.imported or ticket.out_of_sla or change == Change.ASSIGNED:
        return set()
    first_reply = (change == Change.MESSAGE and message.kind == MessageKind.REPLY
                   and ticket.first_response_at == message.created_at)
    if change == Change.MESSAGE and not first_reply:
        return set()  # a note, a customer message (its status change is an event of its own), a later reply
    if change == Change.PRIORITY:
        state = Ticket.objects.select_for_update().filter(pk=ticket.pk).values(*_STATE).get()
        for name, value in state.items():
            setattr(ticket, name, value)
    config = sla_config(ticket.organization_id)
    cal = config.calendar
    clock.set_due_times(ticket, config)  # with the pauses counted so far

    rows = []
    if first_reply and ticket.first_response_due_at is not None:
        rows.append(outcomes.OutcomeRow(
            ticket.organization_id, ticket.pk, clock.FIRST_RESPONSE, ticket.priority, getattr(actor, "pk", None),
            ticket.created_at, ticket.first_response_due_at, now,
            clock.business_seconds(cal, ticket.created_at, now), now > ticket.first_response_due_at, now,
        ))
    if change == Change.STATUS:
        if new in clock.STOPPED and old not in clock.STOPPED and ticket.resolution_due_at is not None:
            # Resolved (or closed): the clock stopped when it was paused, if it was (waiting on the customer).
            stopped_at = ticket.sla_paused_at or now
            spent = clock.business_seconds(cal, ticket.created_at, stopped_at) - ticket.sla_paused_seconds
            rows.append(outcomes.OutcomeRow(
                ticket.organization_id, ticket.pk, clock.RESOLUTION, ticket.priority,
                ticket.assignee_id or getattr(actor, "pk", None), ticket.created_at, ticket.resolution_due_at,
                stopped_at, max(spent, 0), stopped_at > ticket.resolution_due_at, now,
            ))
        clock.stop_or_start(ticket, config, now)
        clock.set_due_times(ticket, config)  # a restart pushed the resolution due time back
    outcomes.record(rows)
    clock.derive(ticket, config, now)
    return set(clock.FIELDS)

