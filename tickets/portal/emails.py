"""Emails of the customer-facing channels: the portal sign-in link and the contact form acknowledgement.

Both in the organization's language, from the organization's mailbox when it has one (like every
customer email, tickets.email.outbound), sent from Celery after commit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import override

from crm.services import undeliverable
from lumiodesk import crypto
from lumiodesk.html_sanitizer import neutral_subject

from .. import services
from ..email.models import EmailReference, Mailbox
from ..email.outbound import connection_for, mailbox_for, message_id_for, sender_for
from ..models import Ticket
from .link_tokens import CONFIRM_LINK_DAYS, SIGN_IN_LINK_MINUTES, contact_confirmation_token, hash_token
from .models import PortalSignInLink


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _sender(organization, mailbox) -> tuple[str, list[str]]:
    return sender_for(mailbox, organization)


def mailbox_for_organization(organization) -> Mailbox | None:
    return Mailbox.objects.filter(organization=organization, is_active=True).order_by("id").first()


def send_sign_in_link(link_id: int, sealed_token: str) -> bool:
    """Send the sign-in link; False if the link was used, expired or the token does not match it."""
    link = (
        PortalSignInLink.objects.select_related("customer", "organization")
        .filter(pk=link_id, used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    token = crypto.decrypt(sealed_token)
    if link is None or not token or hash_token(token) != link.token_hash or undeliverable(link.customer.email):
        return False
    org, customer = link.organization, link.customer
    mailbox = mailbox_for_organization(org)
    url = absolute(reverse("portal:sign_in_link", args=[org.slug, token]))
    context = {"organization": org, "customer": customer, "url": url, "minutes": SIGN_IN_LINK_MINUTES}
    with override(org.language):
        subject = _("Votre lien de connexion à l'espace client %(org)s") % {"org": org.name}
        text = render_to_string("portal/email/sign_in.txt", context)
        html = render_to_string("portal/email/sign_in.html", context)
    from_email, reply_to = _sender(org, mailbox)
    mail = EmailMultiAlternatives(
        subject=subject, body=text, from_email=from_email, to=[customer.email], reply_to=reply_to,
        headers={"Auto-Submitted": "auto-generated"}, connection=connection_for(mailbox, org),
    )
    mail.attach_alternative(html, "text/html")
    mail.send()
    return True


def send_contact_acknowledgement(ticket_id: int) -> bool:
    """"We received your request #N": the number, the subject cut short and neutralized, the portal link and,
    when the sender has not proved the address is theirs, the link to confirm it.

    Never the submitted text nor the name typed in the form: anyone can type any address in the form, and
    this email must not carry their words to it. Nothing is lost: the message is in the ticket.
    It opens the ticket's email thread (Message-ID = the ticket's root id), so a reply to it lands
    in the ticket. Sent once: a second run of the task finds the marker and does nothing.
    """
    marker = f"portal:ack:{ticket_id}"
    if cache.get(marker):
        return False
    ticket = (
        Ticket.objects.select_related("organization", "customer", "mailbox").filter(pk=ticket_id).first()
    )
    if ticket is None or not ticket.customer.wants_email:
        return False
    org = ticket.organization
    with override(org.language):
        refused = undeliverable(ticket.customer.email)
        if refused:  # an internal address ("root@localhost"): nothing is sent there; the ticket says so, once
            note = _("Accusé de réception non envoyé à %(to)s : %(reason)s") % {
                "to": ticket.customer.email, "reason": refused}
            services.add_system_note(ticket=ticket, text=note, html=f"<p><em>{escape(note)}</em></p>")
            cache.set(marker, 1, timeout=30 * 86400)
            return False
    mailbox = mailbox_for(ticket)
    context = {
        "organization": org, "ticket": ticket, "subject": neutral_subject(ticket.subject),
        "portal_url": absolute(reverse("portal:sign_in_request", args=[org.slug])),
        "confirm_url": absolute(reverse("contact:confirm_link", args=[org.slug, contact_confirmation_token(ticket)]))
        if ticket.sender_unverified else "",
        "confirm_days": CONFIRM_LINK_DAYS,
    }
    with override(org.language):
        subject = _("Nous avons bien reçu votre demande") + f" [#{ticket.number}]"
        text = render_to_string("portal/email/contact_acknowledgement.txt", context)
        html = render_to_string("portal/email/contact_acknowledgement.html", context)
    root = message_id_for(ticket, "0")
    from_email, reply_to = _sender(org, mailbox)
    mail = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text, from_email=from_email, to=[ticket.customer.email],
        reply_to=reply_to,
        headers={"Message-ID": f"<{root}>", "Auto-Submitted": "auto-replied", "X-LumioDesk-Ticket": str(ticket.number)},
        connection=connection_for(mailbox, org),
    )
    mail.attach_alternative(html, "text/html")
    EmailReference.objects.get_or_create(
        organization_id=org.pk, message_id=root, defaults={"ticket": ticket, "outbound": True}
    )
    mail.send()
    cache.set(marker, 1, timeout=30 * 86400)
    return True
