"""Permanent deletion of a ticket (section 18): reserved to Admins, confirmed by typing the ticket's number, and
written to the organization's audit log, which survives it.

What goes with the ticket, in one transaction: its messages, attachments (the rows; the files leave the storage
after the commit), the raw copies of the emails that made it (``InboundEmail``, their duplicates too), its
Message-IDs, its search document (a column of the ticket row), its SLA, rule, satisfaction, chat, refund and
article-link rows (database cascades), and the agents' notifications that link to it. The audit row keeps the
number, who, when and how much was deleted, never the subject nor the conversation.

A rolled-back deletion deletes no file. A crash after the commit may leave files without rows (nothing links
to them any more).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import AgentNotification
from lumiodesk.permissions import Actor, require

from ..email.models import InboundEmail
from ..models import Attachment, Message, Ticket


def confirmation_matches(ticket: Ticket, typed: str) -> bool:
    return (typed or "").strip().lstrip("#").strip() == str(ticket.number)


@transaction.atomic
def delete_ticket(*, actor: Actor, ticket: Ticket, confirmation: str) -> dict[str, int]:
    """Delete ``ticket`` for good; ``confirmation`` is the ticket's number as the Admin typed it."""
    require(actor, "tickets.delete", ticket.organization)
    if not confirmation_matches(ticket, confirmation):
        raise InvalidInput(_("Saisissez le numéro du ticket (%(number)s) pour confirmer la suppression.")
                           % {"number": ticket.number})
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk, organization_id=ticket.organization_id)
    message_ids = list(Message.objects.filter(ticket=ticket).values_list("id", flat=True))
    files = list(Attachment.objects.filter(message_id__in=message_ids).exclude(file="").values_list("file", flat=True))
    attachments = Attachment.objects.filter(message_id__in=message_ids).count()
    raw = InboundEmail.objects.filter(Q(ticket=ticket) | Q(message_id__in=message_ids),
                                      organization_id=ticket.organization_id)
    raw_ids = list(raw.values_list("id", flat=True))
    raw_deleted, _detail = InboundEmail.objects.filter(Q(id__in=raw_ids) | Q(duplicate_of_id__in=raw_ids)).delete()
    page = reverse("tickets:detail", args=[ticket.number])
    AgentNotification.objects.filter(
        Q(url=page) | Q(url__startswith=f"{page}#") | Q(url__startswith=f"{page}?"),
        organization_id=ticket.organization_id,
    ).delete()
    summary = {"messages": len(message_ids), "attachments": attachments, "raw_emails": raw_deleted}
    audit.record(organization=ticket.organization, actor=getattr(actor, "user", None), action="ticket.deleted",
                 target_type="ticket", target_id=ticket.pk, number=ticket.number, **summary)
    ticket.delete()
    storage = Attachment._meta.get_field("file").storage
    transaction.on_commit(lambda: [storage.delete(name) for name in files])
    return summary
