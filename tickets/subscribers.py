"""The tickets app's subscribers of the ticket pipeline (``tickets.pipeline``; order in ``TICKET_PIPELINE``).

Each is called at the change, inside the transaction, after the steps; each returns what to do after the
commit (or None), which the pipeline hands to ``transaction.on_commit``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.cache import cache
from django.db.models.signals import post_delete
from django.dispatch import receiver

from . import agent_notifications
from .chat import services as chat
from .models import Channel, Status, Ticket
from .pipeline import ChangeKind, TicketChange
from .selectors import closed_count_key, forget_counts, resolved_today_key
from .tasks import notify_agents


def notify_agents_of_change(c: TicketChange) -> Callable[[], None] | None:
    """Assigned, urgent, customer reply, mention (``tickets.agent_notifications``): queued after the commit."""
    pending = agent_notifications.to_notify(c)
    if not pending:
        return None

    def queue() -> None:
        for p in pending:
            notify_agents.delay(p.event, p.ticket_id, actor_id=p.actor_id, key=p.key, message_id=p.message_id)

    return queue


def follow_chat_inbox(c: TicketChange) -> None:
    """The chat inbox follows its tickets: one UPDATE, on chat tickets only, committed with the change."""
    if c.ticket.channel != Channel.CHAT:
        return None
    if c.kind == ChangeKind.MESSAGE and c.message is not None:
        chat.on_ticket_message(c.ticket, c.message, c.now)
    elif c.kind == ChangeKind.STATUS and c.new in (Status.RESOLVED, Status.CLOSED):
        chat.on_ticket_done(c.ticket)
    return None


# --- the cached counts (tickets.selectors: "closed", "resolved today") ---------------------------------------


def forget_cached_counts(c: TicketChange) -> Callable[[], None] | None:
    """A ticket enters or leaves "closed" (the closed count), or "resolved" or "closed" (resolving and closing
    set ``resolved_at``, reopening clears it: the day's "Résolus"): the cached figures are dropped now, and
    again after the commit (once the change is visible to other requests)."""
    if c.kind != ChangeKind.STATUS:
        return None
    org_id = c.ticket.organization_id
    keys = []
    if Status.CLOSED in (c.old, c.new):
        keys.append(closed_count_key(org_id))
    if {Status.RESOLVED, Status.CLOSED} & {c.old, c.new}:
        keys.append(resolved_today_key(org_id))
    if not keys:
        return None
    cache.delete_many(keys)
    return lambda: cache.delete_many(keys)


@receiver(post_delete, sender=Ticket, dispatch_uid="tickets.closed_count_delete")
def on_ticket_deleted(sender, instance, **kwargs):
    """A deleted ticket (whatever its in-memory status, which may be stale: deletions are rare)."""
    forget_counts(closed_count_key(instance.organization_id), resolved_today_key(instance.organization_id))
