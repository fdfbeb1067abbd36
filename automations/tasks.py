"""Celery tasks of automations: ids in, one service call, safe to run twice (see each function).

``deliver_webhook`` is defined in ``automations.webhooks``, which queues it, and listed here."""

from __future__ import annotations

from celery import shared_task

from . import timerules, webhooks
from .webhooks import deliver_webhook

__all__ = ["deliver_due_webhooks", "deliver_webhook", "purge_webhook_deliveries", "run_time_rules"]



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
