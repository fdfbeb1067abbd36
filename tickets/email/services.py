"""Pause and resume a mailbox (Settings > Channels > Email).

A paused mailbox keeps its history and its settings; what arrives during the pause is not
imported later: the SMTP receiver refuses it while paused (see ``smtp.py``), and on resume the
IMAP poller moves past the messages the server received during the pause
(``imap.skip_paused_backlog``).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from billing.catalogue import Feature
from billing.services import has_feature
from lumiodesk import audit
from lumiodesk.permissions import Actor, require

from . import imap
from .models import Mailbox

log = logging.getLogger(__name__)

_IMAP_FIELDS = ["imap_uidvalidity", "imap_last_uid", "imap_last_polled_at", "imap_last_error"]


def pause_mailbox(*, mailbox: Mailbox, actor: Actor) -> Mailbox:
    require(actor, "mailboxes.manage", mailbox.organization)
    with transaction.atomic():
        current = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
        if current.paused_at is None:
            current.paused_at = timezone.now()
            current.save(update_fields=["paused_at"])
            audit.record(
                organization=mailbox.organization,
                actor=actor.user,
                action=imap.AUDIT_PAUSED,
                target_type="mailbox",
                target_id=mailbox.pk,
                paused_at=current.paused_at.isoformat(),
            )
    mailbox.paused_at = current.paused_at
    return mailbox


def resume_mailbox(*, mailbox: Mailbox, actor: Actor) -> Mailbox:
    """Resume; with IMAP, skip what the server received during the pause. If the server cannot
    be reached now, the error is shown on the mailbox and the next poll does the skipping
    (the pause is kept in the audit row)."""
    require(actor, "mailboxes.manage", mailbox.organization)
    with transaction.atomic():
        current = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
        paused_at = current.paused_at
        if paused_at is None:
            mailbox.paused_at = None
            return mailbox
        resumed_at = timezone.now()
        current.paused_at = None
        current.save(update_fields=["paused_at"])
        audit.record(
            organization=mailbox.organization,
            actor=actor.user,
            action=imap.AUDIT_RESUMED,
            target_type="mailbox",
            target_id=mailbox.pk,
            paused_at=paused_at.isoformat(),
            resumed_at=resumed_at.isoformat(),
        )
    mailbox.paused_at = None
    if current.uses_imap and current.is_active and has_feature(mailbox.organization, Feature.MAILBOX_SMTP_IMAP):
        try:
            result = imap.skip_paused_backlog(current, paused_at, resumed_at)
            log.info(
                "mailbox %s resumed: %s message(s) of the pause skipped, %s imported",
                mailbox.pk,
                result.skipped,
                result.imported,
            )
        except imap.MailboxBusy:
            log.info("mailbox %s resumed while being polled: the poll skips the pause's messages", mailbox.pk)
        except Exception as exc:  # the server is down, refuses the login...: the resume still holds
            log.warning("mailbox %s resumed, IMAP server not reachable: %s", mailbox.pk, imap.describe_error(exc))
        mailbox.refresh_from_db(fields=_IMAP_FIELDS)
    return mailbox
