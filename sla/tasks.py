"""Celery tasks of the sla app: thin, safe to run twice (see each service)."""

from __future__ import annotations

from celery import shared_task

from . import alerts, digest, services


@shared_task
def run_sla_scan() -> dict[str, int]:
    return alerts.run_scan()


@shared_task
def send_daily_digests() -> int:
    return digest.send_digests()


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=10, max_retries=5)
def restamp_organization(self, organization_id: int) -> int:
    return services.restamp_open_tickets(organization_id)
