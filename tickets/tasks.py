"""Celery tasks: ids in, one service call, safe to run twice.

A task that a module queues itself is defined in that module (no cycle between it and this one) and listed
here: ``send_customer_notification_email`` (``tickets.notifications``), ``poll_imap_mailbox``
(``tickets.email.imap``), ``send_mailbox_verification`` (``tickets.email.verification``).
"""

from __future__ import annotations

from celery import shared_task

from . import agent_notifications, services
from .email import imap, intake
from .email.imap import poll_imap_mailbox
from .email.verification import send_mailbox_verification
from .notifications import send_customer_notification_email

__all__ = [
    "notify_agents", "poll_imap_mailbox", "poll_imap_mailboxes", "process_inbound_email",
    "process_stale_inbound_emails", "run_ticket_lifecycle", "send_customer_notification_email",
    "send_mailbox_verification",
]


@shared_task
def run_ticket_lifecycle() -> dict[str, int]:
    return services.run_lifecycle()


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=10, max_retries=10)
def process_inbound_email(self, inbound_id: int) -> str:
    return intake.process(inbound_id).status


@shared_task
def process_stale_inbound_emails() -> int:
    """Stored messages whose processing task never ran (worker lost, broker down): nothing stays unread."""
    return intake.process_stale()


@shared_task
def poll_imap_mailboxes() -> int:
    return imap.poll_all()


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=10, max_retries=5)
def notify_agents(self, event: str, ticket_id: int, *, actor_id: int | None = None, key: str,
                  message_id: int | None = None) -> int:
    """Agent notifications of one ticket event (tickets.agent_notifications); idempotent by ``key``."""
    return agent_notifications.deliver(event, ticket_id, actor_id=actor_id, key=key, message_id=message_id)
