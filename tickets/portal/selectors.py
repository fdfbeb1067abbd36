"""Reads of the customer portal, each in a fixed number of queries, always scoped to one customer.

A contact-form ticket whose sender has not confirmed the address (``Ticket.sender_unverified``) is not the
customer's yet: none of these reads shows it, its messages, attachments or notifications, until they confirm.
"""

from __future__ import annotations

from django.db.models import DateTimeField, F, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from lumiodesk.models import Organization

from ..models import Attachment, CustomerNotification, Message, MessageKind, Status, Ticket

PUBLIC_KINDS = (MessageKind.CUSTOMER, MessageKind.REPLY)  # never MessageKind.NOTE

# The statuses in the customer's words: "waiting internal" is our business, for them it is in progress.
CUSTOMER_STATUS = {
    Status.NEW: (_("Reçu"), "new"),
    Status.OPEN: (_("En cours"), "open"),
    Status.WAITING_INTERNAL: (_("En cours"), "open"),
    Status.WAITING_CUSTOMER: (_("En attente de votre réponse"), "waiting_customer"),
    Status.RESOLVED: (_("Résolu"), "resolved"),
    Status.CLOSED: (_("Fermé"), "closed"),
}


def customer_status(status: str) -> tuple[str, str]:
    """(label, css code) of a status as the customer sees it."""
    return CUSTOMER_STATUS.get(status, (status, status))


def public_organization(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def customer_in(organization: Organization, customer_id) -> Customer | None:
    if not customer_id:
        return None
    return Customer.objects.filter(organization=organization, pk=customer_id).first()


def my_tickets(customer: Customer) -> QuerySet[Ticket]:
    """The customer's tickets, latest activity they can see first (public messages and status changes:
    an internal note does not move a ticket up), with their rating (one query per page)."""
    last_public = (
        Message.objects.filter(ticket=OuterRef("pk"), kind__in=PUBLIC_KINDS)
        .order_by("-created_at").values("created_at")[:1]
    )
    return (
        Ticket.objects.filter(organization_id=customer.organization_id, customer=customer, sender_unverified=False)
        .select_related("satisfaction")
        .defer("search_vector")
        .annotate(last_activity=Greatest(
            Coalesce(Subquery(last_public, output_field=DateTimeField()), F("created_at")), F("status_changed_at")
        ))
        .order_by("-last_activity", "-pk")
    )


def my_ticket(customer: Customer, number: int) -> Ticket | None:
    """The customer's own ticket ``number`` in their organization; None otherwise (the view answers 404)."""
    return (
        Ticket.objects.select_related("organization", "customer", "assignee", "satisfaction")
        .filter(organization_id=customer.organization_id, customer=customer, number=number, sender_unverified=False)
        .first()
    )


def conversation(ticket: Ticket) -> list[Message]:
    """The public messages of a ticket with their attachments (two queries); internal notes never."""
    return list(
        Message.objects.filter(ticket=ticket, kind__in=PUBLIC_KINDS)
        .select_related("author_user")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )


def my_attachment(customer: Customer, number: int, token: str) -> Attachment | None:
    """An attachment of a public message of the customer's own ticket."""
    return (
        Attachment.objects.filter(
            organization_id=customer.organization_id, token=token, message__ticket__number=number,
            message__ticket__customer=customer, message__ticket__sender_unverified=False,
            message__kind__in=PUBLIC_KINDS,
        ).first()
    )


def web_notifications(customer: Customer) -> QuerySet[CustomerNotification]:
    return (
        CustomerNotification.objects.filter(organization_id=customer.organization_id, customer=customer, web=True,
                                            ticket__sender_unverified=False)
        .select_related("ticket")
        .only("pk", "kind", "level", "title", "body", "read_at", "created_at", "ticket__number", "ticket__subject")
        .order_by("-created_at", "-pk")
    )


def unread_count(customer: Customer) -> int:
    return CustomerNotification.objects.filter(
        organization_id=customer.organization_id, customer=customer, web=True, read_at__isnull=True,
        ticket__sender_unverified=False,
    ).count()
