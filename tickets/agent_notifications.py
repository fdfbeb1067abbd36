"""What the ticket lifecycle tells agents (section 17), through ``lumiodesk.notifications``.

The receiver listens to ``tickets.events`` inside the service's transaction and only *queues* the work
with ``transaction.on_commit``: a rolled-back change notifies no one, and the request does not wait for
recipients and preferences. The Celery task (``tickets.tasks.notify_agents``) calls ``deliver``, which is
idempotent: each event has a key, and a person is told of one event once.

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
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk import notifications
from lumiodesk.models import NotificationKind

from .events import Change, ticket_changed
from .models import Message, MessageKind, Priority, Ticket

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


def _queue(event: str, ticket: Ticket, *, actor, key: str, message: Message | None = None) -> None:
    from .tasks import notify_agents

    args = (str(event), ticket.pk)
    kwargs = {"actor_id": getattr(actor, "pk", None), "key": key, "message_id": message.pk if message else None}
    transaction.on_commit(lambda: notify_agents.delay(*args, **kwargs))


@receiver(ticket_changed, dispatch_uid="tickets.agent_notifications")
def on_ticket_changed(sender, *, ticket: Ticket, change: str, now: datetime, actor=None, old=None, new=None,
                      message: Message | None = None, **kwargs) -> None:
    if ticket.imported or ticket.is_automatic or notifications.is_muted():
        return None
    actor_id = getattr(actor, "pk", None)
    stamp = now.isoformat()
    if change == Change.CREATED:
        if ticket.assignee_id and ticket.assignee_id != actor_id:
            _queue(NotificationKind.ASSIGNED, ticket, actor=actor, key=f"assigned:{ticket.pk}:{stamp}")
        if ticket.priority == Priority.URGENT:
            _queue(NotificationKind.URGENT, ticket, actor=actor, key=f"urgent:{ticket.pk}:{stamp}")
    elif change == Change.ASSIGNED and new and new != actor_id:
        _queue(NotificationKind.ASSIGNED, ticket, actor=actor, key=f"assigned:{ticket.pk}:{stamp}")
    elif change == Change.PRIORITY and new == Priority.URGENT and old != Priority.URGENT:
        _queue(NotificationKind.URGENT, ticket, actor=actor, key=f"urgent:{ticket.pk}:{stamp}")
    elif change == Change.MESSAGE and message is not None:
        if message.kind == MessageKind.CUSTOMER and ticket.assignee_id:  # unassigned: back in the queue instead
            _queue(NotificationKind.CUSTOMER_REPLY, ticket, actor=actor, key=f"customer_reply:{message.pk}",
                   message=message)
        elif message.kind == MessageKind.NOTE and "@" in (message.body_text or ""):
            _queue(NotificationKind.MENTION, ticket, actor=actor, key=f"mention:{message.pk}", message=message)
    return None


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
    who = (actor.get_full_name() or actor.email) if actor else ""
    team = notifications.agents_of(org.pk)
    what = {"n": ticket.number, "subject": ticket.subject}

    if event == NotificationKind.ASSIGNED:
        recipients = [ticket.assignee_id] if ticket.assignee_id in team else []
    elif event == NotificationKind.URGENT:
        recipients = [ticket.assignee_id] if ticket.assignee_id in team else team
    elif event == NotificationKind.CUSTOMER_REPLY:
        recipients = [ticket.assignee_id] if ticket.assignee_id in team else []
    elif event == NotificationKind.MENTION:
        recipients = mentioned(message.body_text if message else "", User.objects.filter(pk__in=team))
    else:
        raise ValueError(f"unknown ticket notification {event!r}")
    if not recipients:
        return 0

    with override(org.language):
        if event == NotificationKind.ASSIGNED:
            title = _("Ticket assigné : #%(n)s %(subject)s") % what
            body = _("%(who)s vous a assigné ce ticket.") % {"who": who} if who else _("Ce ticket vous a été assigné.")
        elif event == NotificationKind.URGENT:
            title = _("Ticket urgent : #%(n)s %(subject)s") % what
            body = _("Client : %(customer)s.") % {"customer": ticket.customer.display_name}
        elif event == NotificationKind.CUSTOMER_REPLY:
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
