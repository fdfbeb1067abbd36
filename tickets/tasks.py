"""Celery tasks: ids in, one service call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

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
