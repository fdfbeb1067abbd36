"""Outgoing customer emails."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import override

from .models import CustomerNotification


def message_id_for(ticket, suffix: str) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "lumiodesk.local"
    return f"<ticket-{ticket.organization_id}-{ticket.number}-{suffix}@{domain}>"


def send_notification_email(notification_id: int) -> bool:
    """Send one notification email; returns False if it was already sent or is not wanted.

    Sent at least once: a crash between sending and marking may send it twice,
    never zero times (the task retries).
    """
    notification = (
        CustomerNotification.objects.select_related("ticket", "customer", "organization", "message")
        .filter(pk=notification_id, email=True, emailed_at__isnull=True)
        .first()
    )
    if notification is None:
        return False
    ticket = notification.ticket
    org = notification.organization
    context = {"n": notification, "ticket": ticket, "organization": org, "customer": notification.customer}
    with override(org.language):
        subject = f"[#{ticket.number}] {notification.title}"
        text = render_to_string("tickets/email/notification.txt", context)
        html = render_to_string("tickets/email/notification.html", context)
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.customer.email],
        headers={
            "Message-ID": message_id_for(ticket, f"n{notification.pk}"),
            "In-Reply-To": message_id_for(ticket, "0"),
            "References": message_id_for(ticket, "0"),
            "Auto-Submitted": "auto-generated" if notification.message is None else "no",
        },
    )
    mail.attach_alternative(html, "text/html")
    mail.send()
    CustomerNotification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    return True
