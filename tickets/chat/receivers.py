"""The chat inbox follows its tickets (``tickets.events``): one UPDATE, on chat tickets only."""

from __future__ import annotations

from django.dispatch import receiver

from ..events import Change, ticket_changed
from ..models import Channel, Status
from . import services


@receiver(ticket_changed, dispatch_uid="tickets.chat.inbox")
def follow_chat_tickets(sender, ticket, change, now, message=None, new=None, **kwargs):
    if ticket.channel != Channel.CHAT:
        return None
    if change == Change.MESSAGE and message is not None:
        services.on_ticket_message(ticket, message, now)
    elif change == Change.STATUS and new in (Status.RESOLVED, Status.CLOSED):
        services.on_ticket_done(ticket)
    return None
