"""Celery tasks: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import connection

from . import emails, services


@shared_task(
    bind=True, autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=3600, max_retries=8,
    retry_jitter=True,
)
def send_customer_notification_email(self, notification_id: int) -> bool:
    return emails.send_notification_email(notification_id)


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
    from .email.intake import process, quarantine_interrupted, timed_out

    starts = _count_start(inbound_id)
    if starts > INBOUND_MAX_STARTS:  # killed by the hard limit each time (redelivered): it stops here
        return quarantine_interrupted(inbound_id, starts=starts - 1).status
    inbound = process(inbound_id)
    if timed_out(inbound):
        if self.request.retries < INBOUND_TIMEOUT_RETRIES:
            raise self.retry(countdown=60 * (self.request.retries + 1), max_retries=INBOUND_TIMEOUT_RETRIES)
    else:
        cache.delete(_starts_key(inbound_id))
    return inbound.status


@shared_task
def process_stale_inbound_emails() -> int:
    """Stored messages whose processing task never ran (worker lost, broker down): nothing stays unread."""
    from .email.intake import process_stale

    return process_stale()


@shared_task
def poll_imap_mailboxes() -> int:
    from .email.imap import poll_all

    return poll_all()


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=5, soft_time_limit=240,
             time_limit=300)
def poll_imap_mailbox(self, mailbox_id: int) -> int:
    from .email.imap import poll_mailbox

    return poll_mailbox(mailbox_id)


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=10, max_retries=5)
def notify_agents(self, event: str, ticket_id: int, *, actor_id: int | None = None, key: str,
                  message_id: int | None = None) -> int:
    """Agent notifications of one ticket event (tickets.agent_notifications); idempotent by ``key``."""
    from .agent_notifications import deliver

    return deliver(event, ticket_id, actor_id=actor_id, key=key, message_id=message_id)
