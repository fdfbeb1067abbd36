"""Celery tasks of the core: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import notifications


@shared_task(
    bind=True, autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=3600, max_retries=8,
    retry_jitter=True,
)
def send_agent_notification_email(self, notification_id: int) -> bool:
    return notifications.send_email(notification_id)


@shared_task
def resend_unsent_notification_emails() -> int:
    return notifications.resend_unsent_emails()
