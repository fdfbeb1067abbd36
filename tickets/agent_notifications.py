"""What the ticket lifecycle tells agents (section 17), through ``lumiodesk.notifications``.

``to_notify`` decides, at the change, what to tell (``tickets.subscribers.agent_notifications``, a subscriber
of the ticket pipeline, queues it after the commit: a rolled-back change notifies no one, and the request
does not wait for recipients and preferences). The Celery task (``tickets.tasks.notify_agents``) calls
``deliver``, which is idempotent: each event has a key, and a person is told of one event once.

- new ticket assigned: the new assignee (not when they assigned it to themselves);
- mention in an internal note: the agents named ``@first name`` or ``@email local part``
  (accents and case ignored; a first name shared by several agents mentions each of them);
- customer reply: the assignee (an unassigned ticket reappears in the queue instead);
- urgent ticket (created urgent, or raised to urgent): the assignee, else everyone who works tickets.
The author of the change is never told of it. Imported tickets notify no one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from lumiodesk import notifications
from lumiodesk.models import user_display_name

from .models import Message, MessageKind, Priority, Ticket
from .pipeline import ChangeKind as Change
from .pipeline import TicketChange


class TicketNotificationKind(StrEnum):
    ASSIGNED = "assigned"
    MENTION = "mention"
    CUSTOMER_REPLY = "customer_reply"
    URGENT = "urgent"


# Registered in the core's list at startup (TicketsConfig.ready); the customer reply is in-app only by default.
KINDS = (
    notifications.AgentNotificationKind(TicketNotificationKind.ASSIGNED, gettext_lazy("Nouveau ticket assigné"),
                                        position=10),
    notifications.AgentNotificationKind(TicketNotificationKind.MENTION, gettext_lazy("Mention dans une note interne"),
                                        position=20),
    notifications.AgentNotificationKind(TicketNotificationKind.CUSTOMER_REPLY, gettext_lazy("Réponse client"),
                                        position=30, email=False),
    notifications.AgentNotificationKind(TicketNotificationKind.URGENT, gettext_lazy("Ticket urgent"), position=60),
)

MENTION = re.compile(r"(?<![\w.@+-])@([^\W_][\w.+-]*)", re.UNICODE)
EXCERPT = 280


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def mentioned(text: str, team) -> list[int]:
    """Ids of the agents of ``team`` that ``text`` mentions."""
    tokens = {_plain(t.rstrip(".-+")) for t in MENTION.findall(text or "")}
    if not tokens:
        return []
    return [
        u.pk for u in team
        if (u.first_name and _plain(u.first_name) in tokens) or _plain(u.email.split("@")[0]) in tokens
    ]


@dataclass(frozen=True)
class Pending:
    """One notification event to deliver (the arguments of ``tickets.tasks.notify_agents``)."""

    event: str
    ticket_id: int
    actor_id: int | None
    key: str
    message_id: int | None = None


def to_notify(c: TicketChange) -> list[Pending]:
    """What this change tells agents, decided at the change (the ticket as it is now)."""
    ticket, change, now, actor, old, new, message = c.ticket, c.kind, c.now, c.actor, c.old, c.new, c.message
    if ticket.imported or ticket.is_automatic or notifications.is_muted():
        return []
    pending: list[Pending] = []

    def _queue(event: str, ticket: Ticket, *, actor, key: str, message: Message | None = None) -> None:
        pending.append(Pending(str(event), ticket.pk, getattr(actor, "pk", None), key, message.pk if message else None))

    actor_id = getattr(actor, "pk", None)
    stamp = now.isoformat()
    if change == Change.CREATED:  # as created: what a rule changed is a change of its own, told on its own
        if new["assignee"] and new["assignee"] != actor_id:
            _queue(TicketNotificationKind.ASSIGNED, ticket, actor=actor, key=f"assigned:{ticket.pk}:{stamp}")
        if new["priority"] == Priority.URGENT:
            _queue(TicketNotificationKind.URGENT, ticket, actor=actor, key=f"urgent:{ticket.pk}:{stamp}")
    elif change == Change.ASSIGNED and new and new != actor_id:
        _queue(TicketNotificationKind.ASSIGNED, ticket, actor=actor, key=f"assigned:{ticket.pk}:{stamp}")
    elif change == Change.PRIORITY and new == Priority.URGENT and old != Priority.URGENT:
        _queue(TicketNotificationKind.URGENT, ticket, actor=actor, key=f"urgent:{ticket.pk}:{stamp}")
    elif change == Change.MESSAGE and message is not None:
        if message.kind == MessageKind.CUSTOMER and ticket.assignee_id:  # unassigned: back in the queue instead
            _queue(TicketNotificationKind.CUSTOMER_REPLY, ticket, actor=actor, key=f"customer_reply:{message.pk}",
                   message=message)
        elif message.kind == MessageKind.NOTE and "@" in (message.body_text or ""):
            _queue(TicketNotificationKind.MENTION, ticket, actor=actor, key=f"mention:{message.pk}", message=message)
    return pending


def _excerpt(message: Message | None) -> str:
    text = " ".join((message.body_text if message else "").split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def deliver(event: str, ticket_id: int, *, actor_id: int | None, key: str, message_id: int | None = None) -> int:
    """Create the notifications of one ticket event; returns how many were created (0 when run again)."""
    ticket = Ticket.objects.select_related("organization", "customer").filter(pk=ticket_id).first()
    if ticket is None or ticket.imported:
        return 0
    org = ticket.organization
    message = Message.objects.select_related("author_user").filter(pk=message_id).first() if message_id else None
    User = get_user_model()
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    who = user_display_name(actor) if actor else ""
    team = notifications.agents_of(org.pk)
    what = {"n": ticket.number, "subject": ticket.subject}

    if event == TicketNotificationKind.ASSIGNED:
        recipients = [ticket.assignee_id] if ticket.assignee_id in team else []
    elif event == TicketNotificationKind.URGENT:
        recipients = [ticket.assignee_id] if ticket.assignee_id in team else team
    elif event == TicketNotificationKind.CUSTOMER_REPLY:
        recipients = [ticket.assignee_id] if ticket.assignee_id in team else []
    elif event == TicketNotificationKind.MENTION:
        recipients = mentioned(message.body_text if message else "", User.objects.filter(pk__in=team))
    else:
        raise ValueError(f"unknown ticket notification {event!r}")
    if not recipients:
        return 0

    with override(org.language):
        if event == TicketNotificationKind.ASSIGNED:
            title = _("Ticket assigné : #%(n)s %(subject)s") % what
            body = _("%(who)s vous a assigné ce ticket.") % {"who": who} if who else _("Ce ticket vous a été assigné.")
        elif event == TicketNotificationKind.URGENT:
            title = _("Ticket urgent : #%(n)s %(subject)s") % what
            body = _("Client : %(customer)s.") % {"customer": ticket.customer.display_name}
        elif event == TicketNotificationKind.CUSTOMER_REPLY:
            title = _("Réponse client : #%(n)s %(subject)s") % what
            body = _excerpt(message)
        else:
            title = _("%(who)s vous a mentionné : #%(n)s %(subject)s") % {"who": who or _("Un agent"), **what}
            body = _excerpt(message)
    url = reverse("tickets:detail", args=[ticket.number])
    if message is not None:
        url += f"#m{message.pk}"
    drafts = [notifications.Draft(recipient_id=r, title=title, body=body, url=url, dedup_key=key) for r in recipients]
    return len(notifications.notify(organization_id=org.pk, kind=event, drafts=drafts, exclude=[actor_id]))
