"""Celery tasks of automations: ids in, one service call, safe to run twice (see each function)."""

from __future__ import annotations

from celery import shared_task

from . import timerules, webhooks


@shared_task(soft_time_limit=30, time_limit=45)  # one POST has a 10 s timeout; a claim left behind expires
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of one delivery; does nothing if it is not due or another worker is sending it."""
    return webhooks.attempt(delivery_id)


@shared_task
def deliver_due_webhooks() -> int:
    """Beat, every minute: queue the retries whose time has come (and anything the broker missed)."""
    return webhooks.queue_due()


@shared_task
def run_time_rules() -> dict[str, int]:
    """Beat, every minute: the time rules ("still New after 2 business hours"), once per episode."""
    return timerules.run_scan()


@shared_task
def purge_webhook_deliveries() -> int:
    """Beat, daily: the delivery log keeps 30 days."""
    return webhooks.purge_old_deliveries()
