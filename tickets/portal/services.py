"""Writes of the customer-facing channels: contact form, portal sign-in links, customer replies,
notification preference, web notifications read. Satisfaction ratings are in ``satisfaction``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.catalogue import Limit
from billing.services import require_capacity
from crm.models import Customer, PortalSignInLink
from crm.services import normalize_email, set_notification_preference
from lumiodesk import audit, crypto
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import Organization
from lumiodesk.permissions import SystemActor

from .. import services as ticket_services
from ..models import Channel, CustomerNotification, Message, MessageKind, Ticket

SIGN_IN_LINK_MINUTES = 30
MAX_MESSAGE_CHARS = 20_000


class SignInLinkInvalid(InvalidInput):
    """The link is unknown, already used or expired (the customer is told the same thing in each case)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _check_length(text: str) -> None:
    if len(text or "") > MAX_MESSAGE_CHARS:
        raise InvalidInput(_("Le message ne peut dépasser %(n)s caractères.") % {"n": MAX_MESSAGE_CHARS})


# --- the contact form ------------------------------------------------------------------------------


@transaction.atomic
def submit_contact_form(
    *,
    organization: Organization,
    name: str,
    email: str,
    subject: str,
    message: str,
    attachments: Sequence[UploadedFile] = (),
) -> Ticket:
    """A ticket with channel ``form`` from the public contact form, in one transaction.

    The monthly ticket quota is asked of billing: today it never refuses a ticket (section 9: overage
    only alerts), but a plan whose limit blocks would refuse here with its message, before anything is
    written. The customer gets an acknowledgement email (ticket number, copy of the message, portal
    link) after commit, unless they chose not to receive emails.
    """
    _check_length(message)
    require_capacity(organization, Limit.TICKETS_PER_MONTH)
    ticket = ticket_services.create_ticket_for_contact(
        organization=organization,
        email=email,
        name=(name or "").strip()[:200],
        subject=subject,
        body=message,
        channel=Channel.FORM,
        actor=SystemActor("contact form"),
        attachments=list(attachments),
    )
    if ticket.customer.wants_email:
        from .tasks import send_contact_acknowledgement

        transaction.on_commit(lambda: send_contact_acknowledgement.delay(ticket.pk))
    return ticket


# --- signing in to the portal ------------------------------------------------------------------------


@transaction.atomic
def request_sign_in_link(
    *, organization: Organization, email: str, ip: str | None = None, now: datetime | None = None
) -> PortalSignInLink | None:
    """Email a one-time sign-in link if a customer of this organization has this address.

    Returns the link (None when there is no such customer); callers that face the public must answer
    the same in both cases. The token is in the email only: the row keeps its SHA-256, the task gets
    it encrypted (lumiodesk.crypto), so neither the database nor the broker holds it in clear.
    """
    try:
        email = normalize_email(email)
    except InvalidInput:
        return None
    customer = Customer.objects.filter(organization=organization).with_email(email).first()
    if customer is None:
        return None
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    link = PortalSignInLink.objects.create(
        organization=organization,
        customer=customer,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(minutes=SIGN_IN_LINK_MINUTES),
        requested_ip=_ip_or_none(ip),
    )
    sealed = crypto.encrypt(token)
    from .tasks import send_sign_in_link

    transaction.on_commit(lambda: send_sign_in_link.delay(link.pk, sealed))
    return link


def _ip_or_none(ip: str | None) -> str | None:
    import ipaddress

    try:
        return str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        return None


def find_sign_in_link(
    *, organization: Organization, token: str, now: datetime | None = None
) -> PortalSignInLink | None:
    """The link if it can still be used (read only: showing the confirmation page does not spend it)."""
    now = now or timezone.now()
    return (
        PortalSignInLink.objects.select_related("customer")
        .filter(organization=organization, token_hash=hash_token(token), used_at__isnull=True, expires_at__gt=now)
        .first()
    )


@transaction.atomic
def redeem_sign_in_link(*, organization: Organization, token: str, now: datetime | None = None) -> Customer:
    """Spend the link (once: a conditional UPDATE) and return its customer."""
    now = now or timezone.now()
    token_hash = hash_token(token)
    spent = PortalSignInLink.objects.filter(
        organization=organization, token_hash=token_hash, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if spent != 1:
        raise SignInLinkInvalid(
            _("Ce lien de connexion n'est plus valable : il a déjà servi ou a expiré. Demandez-en un nouveau.")
        )
    link = PortalSignInLink.objects.select_related("customer").get(token_hash=token_hash)
    audit.record(
        organization=organization, actor=None, action="portal.signed_in", target_type="customer",
        target_id=link.customer_id,
    )
    return link.customer


# --- what a signed-in customer does -------------------------------------------------------------------


def _ensure_own_ticket(ticket: Ticket, customer: Customer) -> None:
    if ticket.customer_id != customer.pk or ticket.organization_id != customer.organization_id:
        raise NotPermitted(_("Ce ticket n'est pas le vôtre."))


def reply_as_customer(
    *, ticket: Ticket, customer: Customer, body: str, attachments: Sequence[UploadedFile] = ()
) -> Message:
    """The customer's reply from the portal, through ``add_message``: the lifecycle applies (a reply on a
    ticket waiting on them, resolved or closed reopens it). Channel ``form``: the portal is a web form."""
    _ensure_own_ticket(ticket, customer)
    _check_length(body)
    return ticket_services.add_message(
        ticket=ticket, kind=MessageKind.CUSTOMER, author_customer=customer, body=body,
        attachments=list(attachments), channel=Channel.FORM,
    )


@transaction.atomic
def set_preference(*, customer: Customer, preference: str) -> Customer:
    old = customer.notification_preference
    customer = set_notification_preference(customer=customer, preference=preference)
    if old != preference:
        audit.record(
            organization=customer.organization, actor=None, action="customer.notification_preference",
            target_type="customer", target_id=customer.pk, old=old, new=preference, channel="portal",
        )
    return customer


def mark_notifications_read(
    *, customer: Customer, ids: Iterable[int] | None = None, ticket: Ticket | None = None,
    now: datetime | None = None,
) -> int:
    """Mark the customer's unread web notifications (all, these ids, or those of one ticket they are
    reading) read; returns how many."""
    qs = CustomerNotification.objects.filter(
        organization_id=customer.organization_id, customer=customer, web=True, read_at__isnull=True
    )
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    if ticket is not None:
        qs = qs.filter(ticket=ticket)
    return qs.update(read_at=now or timezone.now())
