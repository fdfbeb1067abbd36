"""Outgoing customer emails: threaded (Message-ID, In-Reply-To, References, [#number] token),
HTML and text parts, sent through the mailbox's own SMTP server on plans that allow it."""

from __future__ import annotations

from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from billing.catalogue import Feature
from billing.services import has_feature
from crm.services import undeliverable
from lumiodesk.html_sanitizer import neutral_subject

from ..models import CustomerNotification, CustomerNotificationKind, Message, MessageKind
from ..portal.satisfaction import ask_in_email
from .models import EmailReference, Mailbox


def _domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">").strip() or "lumiodesk.local"


def message_id_for(ticket, suffix: str) -> str:
    return f"ticket-{ticket.organization_id}-{ticket.number}-{suffix}@{_domain()}"


def mailbox_for(ticket) -> Mailbox | None:
    if ticket.mailbox_id:
        return ticket.mailbox
    return Mailbox.objects.filter(organization_id=ticket.organization_id, is_active=True).order_by("id").first()


def sender_for(mailbox: Mailbox | None, organization) -> tuple[str, list[str]]:
    """(From, Reply-To) of a customer email. A mailbox's own address only once verified: an unverified one
    (perhaps another organization's) is never written as our sender nor as where customers reply; the
    email then comes from the platform's address in the organization's name, and replies go to the
    mailbox's forwarding address (so they still reach the ticket)."""
    if mailbox is None:
        return settings.DEFAULT_FROM_EMAIL, []
    if mailbox.is_verified:
        return formataddr((organization.name, mailbox.address)), [mailbox.address]
    platform = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    return formataddr((organization.name, platform)), [mailbox.forwarding_address(settings.INBOUND_EMAIL_DOMAIN)]


def connection_for(mailbox: Mailbox | None, organization):
    """The mailbox's own SMTP server on Business and Scale, else EMAIL_URL."""
    if mailbox is not None and mailbox.uses_smtp and has_feature(organization, Feature.MAILBOX_SMTP_IMAP):
        return get_connection(
            "tickets.email.server_connections.GuardedSMTPBackend",
            host=mailbox.smtp_host, port=mailbox.smtp_port, username=mailbox.smtp_user or None,
            password=mailbox.smtp_password() or None, use_tls=mailbox.smtp_starttls, timeout=30,
        )
    return get_connection()


def subject_for(notification: CustomerNotification) -> str:
    ticket = notification.ticket
    # A contact-form ticket whose sender has not confirmed the address: their subject is not repeated as-is.
    shown = neutral_subject(ticket.subject) if ticket.sender_unverified else ticket.subject
    if notification.kind == CustomerNotificationKind.AGENT_REPLY:
        subject = f"Re: {shown} [#{ticket.number}]"
    else:
        subject = f"{notification.title} [#{ticket.number}]"
    # One line: a subject typed with a line break (API, import) would make Django refuse the header
    # (BadHeaderError, not retried) and the customer would never get the email.
    return " ".join(subject.split())


def send_notification_email(notification_id: int) -> bool:
    """Send one notification email; returns False if it was already sent, is not wanted or cannot be sent
    (an undeliverable address: marked failed, with the reason).

    Sent at least once: a crash between sending and marking may send it twice,
    never zero times (the task retries).
    """
    notification = (
        CustomerNotification.objects.select_related(
            "ticket", "ticket__mailbox", "customer", "organization", "message"
        )
        .filter(pk=notification_id, email=True, emailed_at__isnull=True)
        .first()
    )
    if notification is None:
        return False
    if notification.message is not None and notification.message.kind == MessageKind.NOTE:
        return False  # internal notes are never sent
    ticket = notification.ticket
    org = notification.organization
    with override(org.language):
        refused = undeliverable(notification.customer.email)
        refused = _("jamais envoyé, %(reason)s") % {"reason": refused} if refused else ""
    if refused:
        # An address kept from a received message that leads nowhere public ("root@localhost", a domain of one
        # label): never sent; the notification says so, and the ticket and the customer record show it.
        CustomerNotification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
            email_failed_at=timezone.now(), email_failure=refused
        )
        return False
    mailbox = mailbox_for(ticket)
    context = {"n": notification, "ticket": ticket, "organization": org, "customer": notification.customer}
    context["rating_url"] = ask_in_email(notification)  # the resolution email asks for a rating (CSAT)
    with override(org.language):
        text = render_to_string("tickets/email/notification.txt", context)
        html = render_to_string("tickets/email/notification.html", context)

    root = message_id_for(ticket, "0")
    own_id = message_id_for(ticket, f"n{notification.pk}")
    # The customer's latest message, so their client threads our answer under it.
    last_theirs = (
        Message.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER).exclude(email_message_id="")
        .order_by("-created_at").values_list("email_message_id", flat=True).first()
    )
    references = " ".join(f"<{m}>" for m in [root, last_theirs] if m)
    from_email, reply_to = sender_for(mailbox, org)
    mail = EmailMultiAlternatives(
        subject=subject_for(notification),
        body=text,
        from_email=from_email,
        to=[notification.customer.email],
        reply_to=reply_to,
        headers={
            "Message-ID": f"<{own_id}>",
            "In-Reply-To": f"<{last_theirs or root}>",
            "References": references,
            # A status change or a lifecycle follow-up (no agent wrote it) is automatic (RFC 3834).
            "Auto-Submitted": (
                "no" if notification.message and notification.message.author_user_id else "auto-generated"
            ),
            "X-LumioDesk-Ticket": str(ticket.number),
        },
        connection=connection_for(mailbox, org),
    )
    mail.attach_alternative(html, "text/html")
    for mid in (root, own_id):
        EmailReference.objects.get_or_create(
            organization_id=org.pk, message_id=mid, defaults={"ticket": ticket, "outbound": True}
        )
    mail.send()
    CustomerNotification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    return True
