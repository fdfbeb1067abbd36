"""How sla reacts to the other apps: ticket events stamp the clocks; a new organization gets its defaults.

Connected in ``SlaConfig.ready``. The ticket receiver runs inside the ticket service's transaction and
returns the fields it set; the service saves them with the change (tickets.events).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models.signals import post_save
from django.dispatch import receiver

from lumiodesk.models import Organization
from tickets.events import Change, ticket_changed
from tickets.models import MessageKind, Ticket

from . import clock, outcomes
from .config import sla_config

# What a priority change may read stale from the view's copy of the ticket (set_priority takes no lock).
_STATE = ("status", "created_at", "first_response_at", "sla_paused_at", "sla_paused_seconds", "imported",
          "out_of_sla")


@receiver(ticket_changed, dispatch_uid="sla.stamp_ticket")
def stamp_ticket(sender, *, ticket: Ticket, change: str, now: datetime, actor=None, old=None, new=None,
                 message=None, **kwargs) -> set[str] | None:
    if ticket.imported or ticket.out_of_sla or change == Change.ASSIGNED:
        return None
    first_reply = (change == Change.MESSAGE and message.kind == MessageKind.REPLY
                   and ticket.first_response_at == message.created_at)
    if change == Change.MESSAGE and not first_reply:
        return None  # a note, a customer message (its status change is an event of its own), a later reply
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


@receiver(post_save, sender=Organization, dispatch_uid="sla.organization_defaults")
def organization_defaults(sender, *, instance: Organization, created: bool, raw: bool = False, **kwargs) -> None:
    """A new organization gets Monday–Friday 9:00–18:00 and the section 13 targets, as editable rows."""
    if created and not raw:
        from .services import create_defaults

        create_defaults(instance.pk)
