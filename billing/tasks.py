"""Celery tasks of billing: thin, safe to run twice (see each service).

``finish_invoice`` (PDF and email of one invoice) is defined in ``billing.invoices``, which queues it."""

from __future__ import annotations

from celery import shared_task

from lumiodesk.models import Organization

from . import invoices, subscriptions
from .invoices import finish_invoice

__all__ = ["finish_invoice", "issue_monthly_invoices", "update_subscriptions"]


@shared_task
def update_subscriptions() -> int:
    """Hourly: trials that ended become read-only; each organization's seats of the day are recorded."""
    moved = subscriptions.end_trials()
    for organization in Organization.objects.order_by("pk").iterator():
        subscriptions.record_seats(organization)
    return moved


@shared_task
def issue_monthly_invoices() -> int:
    return invoices.issue_monthly_invoices()
