"""Status changes: the allowed transitions, their timestamps, the customer's notification, the pipeline."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import TransitionNotAllowed
from lumiodesk.permissions import Actor, require

from .. import notifications
from ..models import CustomerNotificationKind, Message, Status, Ticket
from ..pipeline import ChangeKind, TicketChange
from ..pipeline import run as run_pipeline
from .checks import validate_choice

# The lifecycle (DESIGN.md). Reopening is any move back to ``open``.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL, Status.RESOLVED,
                           Status.CLOSED}),
    Status.OPEN: frozenset({Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL, Status.RESOLVED, Status.CLOSED}),
    Status.WAITING_CUSTOMER: frozenset({Status.OPEN, Status.WAITING_INTERNAL, Status.RESOLVED, Status.CLOSED}),
    Status.WAITING_INTERNAL: frozenset({Status.OPEN, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}
# Status changes the customer hears about (002); never new -> open.
NOTIFIED_STATUSES = {
    Status.WAITING_CUSTOMER: CustomerNotificationKind.WAITING_CUSTOMER,
    Status.RESOLVED: CustomerNotificationKind.RESOLVED,
    Status.CLOSED: CustomerNotificationKind.CLOSED,
}
REOPENED_BY_CUSTOMER = {Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED}


def apply_status(
    ticket: Ticket, status: str, *, actor, now: datetime, fields: set[str], reason: str, email_customer: bool = True,
    message: Message | None = None, notify_customer: bool = True,
) -> str:
    """Move the in-memory ticket to ``status`` (checked), stamping the timestamps. Returns the old status.

    ``message`` is the message that explains the change to the customer (the "closed for lack of reply" one).
    ``notify_customer=False``: the customer hears nothing at all (a ticket closed as spam).
    """
    old = ticket.status
    if status not in TRANSITIONS[old]:
        raise TransitionNotAllowed(
            _("Passage de « %(old)s » à « %(new)s » non autorisé.")
            % {"old": Status(old).label, "new": Status(status).label}
        )
    ticket.status = status
    ticket.status_changed_at = now
    fields.update({"status", "status_changed_at"})
    if status == Status.RESOLVED:
        ticket.resolved_at = now
        fields.add("resolved_at")
    elif status == Status.CLOSED:
        ticket.closed_at = now
        fields.add("closed_at")
        if ticket.resolved_at is None:
            ticket.resolved_at = now
            fields.add("resolved_at")
    elif status == Status.OPEN and old in (Status.RESOLVED, Status.CLOSED):
        ticket.resolved_at = None
        ticket.closed_at = None
        fields.update({"resolved_at", "closed_at"})
        if ticket.spam_at is not None:  # reopened (a customer's reply, "not spam"): no longer a spam
            ticket.spam_at, ticket.status_before_spam = None, ""
            fields.update({"spam_at", "status_before_spam"})
    if status == Status.WAITING_CUSTOMER:
        ticket.followups_sent = 0
        fields.add("followups_sent")
    audit.record(
        organization=ticket.organization, actor=actor, action="ticket.status", target_type="ticket",
        target_id=ticket.pk, old=old, new=status, reason=reason,
    )
    if (status in NOTIFIED_STATUSES and notify_customer and not ticket.imported
            and not ticket.is_automatic):  # no mail to a robot
        notifications.notify_customer(ticket=ticket, kind=NOTIFIED_STATUSES[status], email=email_customer,
                                      message=message)
    fields.update(run_pipeline(TicketChange(ticket, ChangeKind.STATUS, now, actor=actor, old=old, new=status)))
    return old


@transaction.atomic
def change_status(
    *, ticket: Ticket, status: str, actor: Actor, reason: str = "manual", email_customer: bool = True,
    at: datetime | None = None,
) -> Ticket:
    validate_choice(status, Status, _("Statut"))
    require(actor, "tickets.change_status", ticket.organization)
    ticket = Ticket.objects.select_for_update().select_related("organization", "customer").get(pk=ticket.pk)
    if ticket.status == status:
        return ticket
    now = at or timezone.now()
    fields = {"updated_at"}
    ticket.updated_at = now
    apply_status(ticket, status, actor=actor.user, now=now, fields=fields, reason=reason,
                  email_customer=email_customer)
    ticket.save(update_fields=sorted(fields))
    return ticket
