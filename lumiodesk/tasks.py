"""Celery tasks of the core: ids in, one service call, safe to run twice.

A task that a module queues itself is defined in that module (no cycle between it and this one) and listed here.
"""

from __future__ import annotations

from celery import shared_task

from . import audit, notifications
from .accounts import send_verification_email
from .notifications import send_agent_notification_email
from .team import send_invitation_email

__all__ = ["purge_audit_log", "resend_unsent_notification_emails", "send_agent_notification_email",
           "send_invitation_email", "send_verification_email"]


@shared_task
def resend_unsent_notification_emails() -> int:
    return notifications.resend_unsent_emails()


@shared_task
def purge_audit_log() -> int:
    """Daily: audit rows older than each organization's plan retention (30/180/365 days), in batches."""
    return audit.purge_expired()
