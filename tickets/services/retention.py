"""Attachment retention (section 18): each organization keeps its attachments for its plan's
``attachment_retention_months`` (12 on Starter, 24 on Business, 36 on Scale), then the files leave the storage.

Contract:
- ``purge_expired_attachments`` (Celery beat, daily) deletes the file of every attachment older than its
  organization's retention and stamps ``Attachment.expired_at``; the row stays, so the conversation still shows
  the file's name with "pièce jointe expirée" instead of a link, and its download answers 410.
- The raw copy of the email that brought such an attachment (``InboundEmail.raw``) holds the same bytes: it is
  emptied in the same step.
- Batches of ``BATCH`` rows, one plan after the other (the plan is a column: no query per organization). Files are
  deleted before the rows are stamped: a crash in between leaves rows that the next run deletes again (deleting
  a missing file is a no-op), never a file without its row. Running it twice changes nothing more.
"""

from __future__ import annotations

from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.catalogue import PLANS, Limit

from ..email.models import InboundEmail
from ..models import Attachment

BATCH = 500


def retention_cutoffs(now: datetime) -> dict[str, datetime]:
    """Plan code -> attachments created before this instant are expired."""
    return {
        code: now - relativedelta(months=spec.limits[Limit.ATTACHMENT_RETENTION_MONTHS])
        for code, spec in PLANS.items()
    }


def purge_expired_attachments(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the files of the attachments past their organization's retention; returns how many expired."""
    now = now or timezone.now()
    expired = 0
    for plan, cutoff in retention_cutoffs(now).items():
        while True:
            rows = list(
                Attachment.objects.filter(expired_at__isnull=True, created_at__lt=cutoff, organization__plan=plan)
                .order_by("created_at", "id")
                .values_list("id", "file", "message_id")[:batch]
            )
            if not rows:
                break
            expired += _expire(rows, now)
            if len(rows) < batch:
                break
    return expired


def _expire(rows: list[tuple[int, str, int]], now: datetime) -> int:
    storage = Attachment._meta.get_field("file").storage
    for _id, name, _message_id in rows:
        if name:
            storage.delete(name)
    with transaction.atomic():
        count = Attachment.objects.filter(id__in=[r[0] for r in rows], expired_at__isnull=True).update(
            expired_at=now, file=""
        )
        message_ids = {r[2] for r in rows}  # the copy that brought the file, and the copies of the same mail again
        InboundEmail.objects.filter(
            Q(message_id__in=message_ids) | Q(duplicate_of__message_id__in=message_ids)
        ).exclude(raw=b"").update(raw=b"")
    return count
