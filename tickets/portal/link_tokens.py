"""The portal's links: sign-in links (how long they last, their token stored hashed) and contact-form
confirmation links (signed, nothing stored).

Below both ``services`` (which makes and redeems the links) and ``emails`` (which sends them).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core import signing

from lumiodesk.models import Organization

from ..models import Ticket

SIGN_IN_LINK_MINUTES = 30
CONFIRM_LINK_DAYS = 30
_CONFIRM_SALT = "lumiodesk.contact.confirm"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def contact_confirmation_token(ticket: Ticket) -> str:
    """Signed (SECRET_KEY) and timestamped: organization, ticket and customer, nothing stored."""
    return signing.dumps([ticket.organization_id, ticket.pk, ticket.customer_id], salt=_CONFIRM_SALT)


def ticket_for_confirmation_token(organization: Organization, token: str) -> Ticket | None:
    """The ticket a confirmation link is for, or None (forged, expired, other organization, customer changed)."""
    try:
        org_id, ticket_id, customer_id = signing.loads(
            token, salt=_CONFIRM_SALT, max_age=timedelta(days=CONFIRM_LINK_DAYS)
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if org_id != organization.pk:
        return None
    return (
        Ticket.objects.select_related("customer")
        .filter(organization=organization, pk=ticket_id, customer_id=customer_id)
        .first()
    )
