"""Celery tasks of the sla app: thin, safe to run twice (see each service).

``restamp_organization`` is defined in ``sla.services``, which queues it, and listed here."""

from __future__ import annotations

from celery import shared_task

from . import alerts, digest
from .dashboard import hygiene, rollups, weekly
from .services import restamp_organization

__all__ = ["refresh_dashboard_rollups", "restamp_organization", "run_queue_hygiene", "run_sla_scan",
           "send_daily_digests", "send_weekly_reports"]


@shared_task
def run_sla_scan() -> dict[str, int]:
    return alerts.run_scan()


@shared_task
def send_daily_digests() -> int:
    return digest.send_digests()



@shared_task
def run_queue_hygiene() -> dict[str, int]:
    return hygiene.run_queue_hygiene()


@shared_task
def send_weekly_reports() -> int:
    return weekly.send_weekly_reports()


@shared_task
def refresh_dashboard_rollups() -> int:
    """The dashboard's days ended (yesterday after 00:15) or changed since they were built; a new organization's
    history a month at a time (``manage.py dashboard_rollups`` builds it all at once)."""
    return rollups.refresh(max_days=rollups.CHUNK_DAYS)
