"""Celery tasks: ids in, one service call, safe to run twice.

A task that a module queues itself is defined in that module (no cycle between it and this one) and listed
here: ``send_customer_notification_email`` (``tickets.notifications``), ``poll_imap_mailbox``
(``tickets.email.imap``), ``send_mailbox_verification`` (``tickets.email.verification``), ``run_import_task``
(``tickets.imports.services``), ``build_export_task`` (``tickets.exports.services``).
"""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import connection

from . import agent_notifications, services
from .email import imap, intake
from .email.imap import poll_imap_mailbox
from .email.verification import send_mailbox_verification
from .exports import services as exports
from .exports.services import build_export_task
from .imports.services import run_import_task
from .notifications import send_customer_notification_email

__all__ = [
    "build_export_task", "notify_agents", "poll_imap_mailbox", "poll_imap_mailboxes", "process_inbound_email",
    "process_stale_inbound_emails", "purge_expired_exports", "run_import_task", "run_ticket_lifecycle",
    "send_customer_notification_email", "send_mailbox_verification",
]


@shared_task
def purge_expired_exports() -> int:
    """Daily: export files past their 14 days are deleted (tickets.exports)."""
    return exports.purge_expired()


@shared_task
def run_ticket_lifecycle() -> dict[str, int]:
    return services.run_lifecycle()


# A message whose processing hits the soft time limit is quarantined (raw bytes kept) by ``process``, then
# tried again this many times, later, before it stays in quarantine: it never holds a worker for longer.
INBOUND_TIMEOUT_RETRIES = 2


# A message whose worker was killed by the hard limit (stuck in C code, where the soft limit cannot reach) is
# delivered again by the broker: past this many starts, counted in Redis (a rolled-back transaction cannot
# count them), it is quarantined without being processed again.
INBOUND_MAX_STARTS = INBOUND_TIMEOUT_RETRIES + 2


def _starts_key(inbound_id: int) -> str:
    return f"inbound-starts:{connection.settings_dict['NAME']}:{inbound_id}"  # one Redis, several databases


def _count_start(inbound_id: int) -> int:
    key = _starts_key(inbound_id)
    cache.add(key, 0, timeout=86_400)
    try:
        return cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, timeout=86_400)
        return 1


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=10, max_retries=10, soft_time_limit=60,
             time_limit=90)
def process_inbound_email(self, inbound_id: int) -> str:
    starts = _count_start(inbound_id)
    if starts > INBOUND_MAX_STARTS:  # killed by the hard limit each time (redelivered): it stops here
        return intake.quarantine_interrupted(inbound_id, starts=starts - 1).status
    inbound = intake.process(inbound_id)
    if intake.timed_out(inbound):
        if self.request.retries < INBOUND_TIMEOUT_RETRIES:
            raise self.retry(countdown=60 * (self.request.retries + 1), max_retries=INBOUND_TIMEOUT_RETRIES)
    else:
        cache.delete(_starts_key(inbound_id))
    return inbound.status


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
