"""Keeps ``tickets.selectors.closed_count`` true: its cached figure is dropped, after commit, when a
ticket enters or leaves "closed" (``tickets.events``) or a ticket is deleted."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .events import Change, ticket_changed
from .models import Status, Ticket
from .selectors import closed_count_key


def _forget_closed_count(organization_id: int) -> None:
    key = closed_count_key(organization_id)
    cache.delete(key)  # now, and again once the change is visible to other requests
    transaction.on_commit(lambda: cache.delete(key))


@receiver(ticket_changed, dispatch_uid="tickets.closed_count")
def on_status_change(sender, ticket, change, old=None, new=None, **kwargs):
    if change == Change.STATUS and Status.CLOSED in (old, new):
        _forget_closed_count(ticket.organization_id)
    return None


@receiver(post_delete, sender=Ticket, dispatch_uid="tickets.closed_count_delete")
def on_ticket_deleted(sender, instance, **kwargs):
    # Whatever the in-memory status says (it may be stale): deletions are rare.
    _forget_closed_count(instance.organization_id)
