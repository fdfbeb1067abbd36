"""Opening a ticket with its first message: numbering, attachments, tags, the pipeline, the audit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.catalogue import Limit
from billing.services import limit_status
from crm.models import Customer
from crm.services import get_or_create_customer
from lumiodesk import audit, rows
from lumiodesk.exceptions import InvalidInput
from lumiodesk.html_sanitizer import body_from
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from ..attachments import check_uploads, max_files
from ..models import Channel, Message, MessageKind, Priority, Ticket
from ..pipeline import ChangeKind, TicketChange
from ..pipeline import run as run_pipeline
from .checks import check_assignee, validate_choice
from .fields import clean_tag_names, write_tags
from .messages import store_attachments
from .search_document import save_with_search_document


def next_number(organization: Organization) -> int:
    """The organization's next ticket number, under the organization row's lock.

    Never below the highest number in use: a stale ``Organization.save()`` (settings form,
    admin) may write back an old ``last_ticket_number``.
    """
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE lumiodesk_organization SET last_ticket_number = GREATEST(last_ticket_number, "
            "(SELECT COALESCE(MAX(number), 0) FROM tickets_ticket WHERE organization_id = %s)) + 1 "
            "WHERE id = %s RETURNING last_ticket_number",
            [organization.pk, organization.pk],
        )
        return cur.fetchone()[0]


# Creating a ticket and adding a message check their input first, then write in a transaction of their
# own, or a savepoint inside the caller's: a failure while writing (a forbidden next status, a file that
# cannot be stored) undoes the ticket or the message alone. ``savepoint=False`` is for a caller that drops
# its whole transaction on any failure (the email intake, which then quarantines the message): two round
# trips less on every email.


def create_ticket(
    *,
    organization: Organization,
    customer: Customer,
    subject: str,
    body: str = "",
    body_html: str = "",
    channel: str = Channel.MANUAL,
    priority: str = Priority.NORMAL,
    actor: Actor,
    assignee=None,
    tags: Iterable[str] = (),
    attachments: Sequence[UploadedFile] = (),
    created_at: datetime | None = None,
    imported: bool = False,
    mailbox=None,
    body_quoted: str = "",
    email_message_id: str = "",
    savepoint: bool = True,
    sender_unverified: bool = False,
    automatic: bool = False,
    out_of_sla: bool = False,
) -> Ticket:
    """Open a ticket with its first message.

    ``automatic``: written by a machine (email intake): no agent notification, no automatic email to its
    sender; ``out_of_sla``: no SLA clock (the organization's setting for automatic mail).

    ``actor`` is the member who created it by hand, or the system (the channel the customer wrote in).
    The first message is the customer's own words, whoever typed them.
    Tickets over the monthly quota are still accepted (section 9): the quota only alerts.
    """
    subject = (subject or "").strip()
    if not subject:
        raise InvalidInput(_("Le sujet est obligatoire."))
    if len(subject) > 255:
        raise InvalidInput(_("Le sujet ne peut dépasser 255 caractères."))
    validate_choice(channel, Channel, _("Canal"))
    validate_choice(priority, Priority, _("Priorité"))
    if customer.organization_id != organization.pk:
        raise InvalidInput(_("Ce client n'appartient pas à cette organisation."))
    require(actor, "tickets.create", organization)
    check_assignee(organization, assignee)
    user = actor.user
    html_body, text_body = body_from(text=body, html_body=body_html)
    if not text_body and not attachments:
        raise InvalidInput(_("La description est obligatoire."))
    tag_names = clean_tag_names(tags)
    files = check_uploads(list(attachments), limit=max_files(channel))

    with transaction.atomic(savepoint=savepoint):  # see the note above create_ticket
        now = created_at or timezone.now()
        ticket = Ticket.objects.create(
            organization=organization,
            number=next_number(organization),
            subject=subject,
            priority=priority,
            channel=channel,
            customer=customer,
            assignee=assignee,
            imported=imported,
            is_automatic=automatic,
            out_of_sla=out_of_sla,
            mailbox=mailbox,
            sender_unverified=sender_unverified,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            last_customer_message_at=now,
        )
        message = rows.insert(Message(  # a fixed statement (every ticket of every channel)
            organization=organization,
            ticket=ticket,
            kind=MessageKind.CUSTOMER,
            author_customer=customer,
            channel=channel,
            body_html=html_body,
            body_text=text_body,
            body_quoted=body_quoted,
            email_message_id=email_message_id,
            created_at=now,
        ))
        ticket.first_message = message
        store_attachments(message, files)
        if tag_names:
            write_tags(ticket, tag_names)
        # The ticket pipeline (tickets.pipeline): SLA stamps, creation rules; agents are told after commit.
        created = {"assignee": ticket.assignee_id, "priority": ticket.priority}  # before any rule changes them
        stamped = run_pipeline(TicketChange(ticket, ChangeKind.CREATED, now, actor=user, new=created,
                                            message=message))
        save_with_search_document(ticket, stamped or ())
        audit.record(
            organization=organization, actor=user, action="ticket.created", target_type="ticket",
            target_id=ticket.pk, channel=channel, imported=imported,
        )
        return ticket


@transaction.atomic
def create_ticket_for_contact(
    *, organization: Organization, email: str, name: str = "", company_name: str = "", **ticket_fields
) -> Ticket:
    """Find or create the customer by email and open the ticket, in one transaction:
    a refused ticket leaves no customer behind."""
    customer = get_or_create_customer(
        organization=organization, email=email, name=name, company_name=company_name
    )
    return create_ticket(organization=organization, customer=customer, **ticket_fields)


def tickets_quota(organization: Organization):
    return limit_status(organization, Limit.TICKETS_PER_MONTH)
