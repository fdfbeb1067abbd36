"""Celery tasks of the sla app: thin, safe to run twice (see each service).

``restamp_organization`` is defined in ``sla.services``, which queues it, and listed here."""

from __future__ import annotations

from celery import shared_task

from . import alerts, digest
from .dashboard import hygiene, weekly
from .services import restamp_organization

__all__ = ["restamp_organization", "run_queue_hygiene", "run_sla_scan", "send_daily_digests",
           "send_weekly_reports"]


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
