"""Spam (002 "Cas particuliers > Ticket spam"): close without a word to the customer, optionally block the
sender, and undo both.

- ``mark_spam`` closes the ticket with no customer notification (neither web nor email), remembers the status
  it had, and, when asked, blocks the customer's address: email intake then quarantines their next mail
  (``tickets.email.intake``) instead of opening tickets. Audited (``ticket.spam``).
- ``unmark_spam`` reopens the ticket and unblocks the address (``ticket.not_spam``). Reopening notifies no one.
- Any reopening (a customer's reply to it, "Rouvrir") also ends the spam mark (``status.apply_status``); the
  address stays blocked until ``unmark_spam``.
Both are idempotent: marking a spam again, or unmarking a ticket that is not one, changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from lumiodesk import audit
from lumiodesk.permissions import Actor, require

from ..models import BlockedSender, Status, Ticket
from ..selectors import forget_counts, resolved_today_key
from .status import apply_status


def _forget_resolved_today(organization_id: int) -> None:
    forget_counts(resolved_today_key(organization_id))


def is_blocked(organization_id: int, email: str) -> bool:
    """Whether mail from ``email`` is quarantined (one index lookup)."""
    return bool(email) and BlockedSender.objects.filter(organization_id=organization_id,
                                                        email=email.strip().lower()).exists()


@transaction.atomic
def mark_spam(*, ticket: Ticket, actor: Actor, block_sender: bool = False, now: datetime | None = None) -> Ticket:
    require(actor, "tickets.mark_spam", ticket.organization)
    ticket = Ticket.objects.select_for_update().select_related("organization", "customer").get(pk=ticket.pk)
    if ticket.spam_at is not None:
        return ticket
    now = now or timezone.now()
    user = getattr(actor, "user", None)
    fields = {"updated_at", "spam_at", "status_before_spam"}
    ticket.updated_at, ticket.spam_at, ticket.status_before_spam = now, now, ticket.status
    if ticket.status != Status.CLOSED:
        apply_status(ticket, Status.CLOSED, actor=user, now=now, fields=fields, reason="spam", notify_customer=False)
    else:  # no status change, so no pipeline: the day's "Résolus" counts no spam (tickets.selectors.counters)
        _forget_resolved_today(ticket.organization_id)
    ticket.save(update_fields=sorted(fields))
    email = (ticket.customer.email or "").strip().lower()
    blocked = block_sender and bool(email)
    if blocked:
        BlockedSender.objects.get_or_create(organization_id=ticket.organization_id, email=email,
                                            defaults={"ticket": ticket, "created_by": user, "created_at": now})
    audit.record(organization=ticket.organization, actor=user, action="ticket.spam", target_type="ticket",
                 target_id=ticket.pk, blocked=email if blocked else "")
    return ticket


@transaction.atomic
def unmark_spam(*, ticket: Ticket, actor: Actor, now: datetime | None = None) -> Ticket:
    require(actor, "tickets.mark_spam", ticket.organization)
    ticket = Ticket.objects.select_for_update().select_related("organization", "customer").get(pk=ticket.pk)
    if ticket.spam_at is None:
        return ticket
    now = now or timezone.now()
    user = getattr(actor, "user", None)
    fields = {"updated_at"}
    ticket.updated_at = now
    if ticket.status == Status.CLOSED:  # a closed ticket only reopens (tickets.services.status.TRANSITIONS),
        apply_status(ticket, Status.OPEN, actor=user, now=now, fields=fields, reason="not spam",  # which unmarks
                     notify_customer=False)
    else:
        ticket.spam_at, ticket.status_before_spam = None, ""
        fields.update({"spam_at", "status_before_spam"})
        _forget_resolved_today(ticket.organization_id)
    ticket.save(update_fields=sorted(fields))
    email = (ticket.customer.email or "").strip().lower()
    unblocked = BlockedSender.objects.filter(organization_id=ticket.organization_id, email=email).delete()[0] \
        if email else 0
    audit.record(organization=ticket.organization, actor=user, action="ticket.not_spam", target_type="ticket",
                 target_id=ticket.pk, unblocked=email if unblocked else "")
    return ticket
