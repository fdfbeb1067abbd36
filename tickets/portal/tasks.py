"""Celery tasks of the customer-facing channels (registered through ``CELERY_IMPORTS``): ids in, one call."""

from __future__ import annotations

from celery import shared_task

from . import emails


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=10, retry_backoff_max=300, max_retries=5,
             retry_jitter=True)
def send_sign_in_link(self, link_id: int, sealed_token: str) -> bool:
    return emails.send_sign_in_link(link_id, sealed_token)


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=3600, max_retries=8,
             retry_jitter=True)
def send_contact_acknowledgement(self, ticket_id: int) -> bool:
    return emails.send_contact_acknowledgement(ticket_id)
