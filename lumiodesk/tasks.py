"""Celery tasks of the core: ids in, one service call, safe to run twice.

A task that a module queues itself is defined in that module (no cycle between it and this one) and listed here.
"""

from __future__ import annotations

from celery import shared_task

from . import notifications
from .notifications import send_agent_notification_email

__all__ = ["resend_unsent_notification_emails", "send_agent_notification_email"]


@shared_task
def resend_unsent_notification_emails() -> int:
    return notifications.resend_unsent_emails()
