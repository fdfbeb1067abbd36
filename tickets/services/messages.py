"""Messages on a ticket: customer messages, public replies, internal notes, and their attachments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Customer
from lumiodesk import audit, rows
from lumiodesk.exceptions import InvalidInput
from lumiodesk.html_sanitizer import body_from, text_to_html
from lumiodesk.permissions import Actor, require

from .. import notifications
from ..attachments import CheckedFile, check_uploads, max_files
from ..models import Attachment, Channel, CustomerNotificationKind, Message, MessageKind, Status, Ticket
from ..pipeline import ChangeKind, TicketChange
from ..pipeline import run as run_pipeline
from .checks import validate_choice
from .search_document import refresh_search_document, save_with_search_document
from .status import REOPENED_BY_CUSTOMER, apply_status, change_status


def store_attachments(message: Message, checked: Sequence[CheckedFile]) -> list[Attachment]:
    """Write files already validated by ``check_uploads``; on failure remove what was written."""
    saved: list[Attachment] = []
    try:
        for f in checked:
            att = Attachment(
                organization_id=message.organization_id,
                message=message,
                token=f.token,
                filename=f.filename,
                content_type=f.content_type,
                size=f.size,
                content_id=getattr(f.upload, "content_id", "")[:255],  # set by the email intake
            )
            att.file.save(f.token, f.upload, save=False)
            saved.append(att)
        Attachment.objects.bulk_create(saved)
    except Exception:
        for att in saved:
            att.file.delete(save=False)
        raise
    return saved


# The ticket locked, with its customer (every message of every channel asks): a fixed statement, no queryset to
# compile (a select_related queryset costs about 1 ms of CPU to build each time).
_LOCKED_TICKET_SQL = (
    f"SELECT {rows.columns(Ticket, 't')}, {rows.columns(Customer, 'c')} FROM {Ticket._meta.db_table} t "
    f"JOIN {Customer._meta.db_table} c ON c.id = t.customer_id WHERE t.id = %s FOR UPDATE"
)


def _locked_ticket(pk: int) -> Ticket:
    """``Ticket.objects.select_for_update().select_related("customer").get(pk=pk)`` (both rows locked, as
    that queryset locks them)."""
    with connection.cursor() as cur:
        cur.execute(_LOCKED_TICKET_SQL, [pk])
        row = cur.fetchone()
    if row is None:
        raise Ticket.DoesNotExist(f"Ticket {pk} does not exist.")
    n = rows.width(Ticket)
    ticket = rows.instance(Ticket, row[:n])
    ticket.customer = rows.instance(Customer, row[n:])
    return ticket


def add_system_note(*, ticket: Ticket, text: str, html: str = "", channel: str = "",
                    email_message_id: str = "") -> Message:
    """A note the system leaves on a ticket for its agents: a delivery failure, parts of an email that could not be
    read, an acknowledgement not sent. Not a change of the ticket: no status, no notification, no rule
    (``add_message`` is for those). ``html``: its HTML when not the text's (``text_to_html``)."""
    extra = {"channel": channel} if channel else {}
    if email_message_id:
        extra["email_message_id"] = email_message_id[:500]
    return Message.objects.create(organization_id=ticket.organization_id, ticket=ticket, kind=MessageKind.NOTE,
                                  body_text=text, body_html=html or text_to_html(text), **extra)


def add_message(
    *,
    ticket: Ticket,
    kind: str,
    body: str = "",
    body_html: str = "",
    actor: Actor | None = None,
    author_customer: Customer | None = None,
    channel: str | None = None,
    attachments: Sequence[UploadedFile] = (),
    then_status: str | None = None,
    created_at: datetime | None = None,
    body_quoted: str = "",
    email_message_id: str = "",
    savepoint: bool = True,
) -> Message:
    """Add a customer message, a public reply or an internal note.

    - a public agent reply on ``new`` moves the ticket to ``open`` and sets the first response;
    - a customer message on ``waiting_customer``, ``resolved`` or ``closed`` reopens it;
    - the customer is told of a public reply, by their preference; never of a note.
    ``then_status`` lets an agent reply and set the status in one step.
    ``actor``: who writes a reply or a note (a member with ``tickets.reply`` / ``tickets.note``, or the
    system); a customer message needs none (its author is ``author_customer``, the channel vouched for them).
    """
    validate_choice(kind, MessageKind, _("Type de message"))
    organization = ticket.organization
    if kind == MessageKind.CUSTOMER:
        author_customer = author_customer or ticket.customer
        if author_customer.organization_id != ticket.organization_id:
            raise InvalidInput(_("Ce client n'appartient pas à cette organisation."))
        author_user = None
    else:
        require(actor, "tickets.note" if kind == MessageKind.NOTE else "tickets.reply", organization)
        author_user = actor.user
    html_body, text_body = body_from(text=body, html_body=body_html)
    if not text_body and not attachments:
        raise InvalidInput(_("Le message est vide."))
    if then_status:
        validate_choice(then_status, Status, _("Statut"))
    channel = channel or (ticket.channel if kind == MessageKind.CUSTOMER else Channel.MANUAL)
    files = check_uploads(list(attachments), limit=max_files(channel))

    with transaction.atomic(savepoint=savepoint):  # see the note above create_ticket
        ticket = _locked_ticket(ticket.pk)
        ticket.organization = organization
        now = created_at or timezone.now()
        message = rows.insert(Message(  # a fixed statement (every message of every channel)
            organization=organization,
            ticket=ticket,
            kind=kind,
            author_user=author_user,
            author_customer=author_customer if kind == MessageKind.CUSTOMER else None,
            channel=channel,
            body_html=html_body,
            body_text=text_body,
            body_quoted=body_quoted,
            email_message_id=email_message_id,
            created_at=now,
        ))
        store_attachments(message, files)

        fields = {"updated_at"}
        ticket.updated_at = now
        if kind == MessageKind.CUSTOMER:
            ticket.last_customer_message_at = now
            fields.add("last_customer_message_at")
            if ticket.status in REOPENED_BY_CUSTOMER:
                apply_status(ticket, Status.OPEN, actor=None, now=now, fields=fields, reason="customer_reply")
        elif kind == MessageKind.REPLY:
            if ticket.first_response_at is None:
                ticket.first_response_at = now
                fields.add("first_response_at")
            if ticket.status == Status.NEW and then_status in (None, Status.OPEN):
                apply_status(ticket, Status.OPEN, actor=author_user, now=now, fields=fields, reason="first_reply")
        fields |= run_pipeline(TicketChange(ticket, ChangeKind.MESSAGE, now, actor=author_user, message=message))
        save_with_search_document(ticket, fields)  # with the new message's words

        if kind == MessageKind.REPLY and not ticket.imported:
            notifications.notify_customer(ticket=ticket, kind=CustomerNotificationKind.AGENT_REPLY, message=message)
        if then_status and then_status != ticket.status:
            # One action, one email: the reply's email already shows the new status.
            change_status(
                ticket=ticket, status=then_status, actor=actor,
                email_customer=kind != MessageKind.REPLY, at=now,
            )
            refresh_search_document([ticket.pk])
        audit.record(
            organization=organization, actor=author_user, action=f"message.{kind}", target_type="ticket",
            target_id=ticket.pk, message_id=message.pk,
        )
        return message
