"""Customer notifications (002): agent reply, waiting on you, resolved, closed.

Each event becomes one ``CustomerNotification`` row flagged for the web and/or
email according to the customer's preference; the email goes out from Celery
after commit. A customer who chose "none" gets nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk.html_sanitizer import neutral_subject

from .email import outbound
from .models import CustomerNotification, CustomerNotificationKind, NotificationLevel

LEVELS = {
    CustomerNotificationKind.AGENT_REPLY: NotificationLevel.INFO,
    CustomerNotificationKind.WAITING_CUSTOMER: NotificationLevel.WARNING,
    CustomerNotificationKind.RESOLVED: NotificationLevel.SUCCESS,
    CustomerNotificationKind.CLOSED: NotificationLevel.INFO,
}


def title_and_body(kind: str, subject: str) -> tuple[str, str]:
    """The titles and messages given by the support guide (002)."""
    if kind == CustomerNotificationKind.WAITING_CUSTOMER:
        return (
            _("Ticket de support : En attente de votre réponse"),
            _("Votre ticket '%(subject)s' est maintenant en attente de votre réponse.") % {"subject": subject},
        )
    if kind == CustomerNotificationKind.RESOLVED:
        return (
            _("Ticket de support : Résolu"),
            _("Votre ticket '%(subject)s' est maintenant résolu.") % {"subject": subject},
        )
    if kind == CustomerNotificationKind.CLOSED:
        return (
            _("Ticket de support : Fermé"),
            _("Votre ticket '%(subject)s' est maintenant fermé.") % {"subject": subject},
        )
    return (
        _("Ticket de support : Nouvelle réponse"),
        _("Vous avez reçu une réponse à votre ticket '%(subject)s'.") % {"subject": subject},
    )


def notify_customer(*, ticket, kind: str, message=None, email: bool = True) -> CustomerNotification | None:
    """Record the notification and, after commit, queue its email. Call inside the service's transaction.

    ``email=False`` keeps it to the web list (used when another email of the same action says it).
    """
    customer = ticket.customer
    web, email = customer.wants_web, customer.wants_email and email
    if not (web or email):
        return None
    with override(ticket.organization.language):
        # A contact-form ticket whose sender has not confirmed the address: their subject is not repeated as-is.
        title, body = title_and_body(kind, neutral_subject(ticket.subject) if ticket.sender_unverified
                                     else ticket.subject)
    notification = CustomerNotification.objects.create(
        organization_id=ticket.organization_id,
        customer=customer,
        ticket=ticket,
        message=message,
        kind=kind,
        level=LEVELS[kind],
        title=title,
        body=body,
        web=web,
        email=email,
    )
    if email:
        transaction.on_commit(lambda: send_customer_notification_email.delay(notification.pk))
    return notification


# Defined beside ``notify_customer``, which queues it, and listed in ``tickets.tasks`` under its registered name.
@shared_task(
    name="tickets.tasks.send_customer_notification_email", bind=True, autoretry_for=(OSError,), retry_backoff=30,
    retry_backoff_max=3600, max_retries=8, retry_jitter=True,
)
def send_customer_notification_email(self, notification_id: int) -> bool:
    return outbound.send_notification_email(notification_id)
