"""``Idempotency-Key`` on the POSTs that create: a retried request answers what the first one answered.

The answer is stored in ``IdempotencyRecord`` (unique per organization and key) in the same transaction as
what the request created. Two requests with the same key at once: the second waits on the unique index
while the first commits, then fails to insert, its own work is rolled back and it answers the first's
answer. The same key with another request (method, path or body) is refused with 422. Records are kept
24 hours (``purge_expired``, Celery beat).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.response import Response

from .errors import ApiError
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.body):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise ApiError("idempotency_key_reused",
                       _("Cette clé d'idempotence a déjà servi pour une autre requête."), status_code=422)
    response = Response(record.body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request, organization, produce: Callable[[], tuple[int, dict]]) -> Response:
    """Answer ``produce()`` (status, body), or the stored answer of the same ``Idempotency-Key``."""
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        status, body = produce()
        return Response(body, status=status)
    if len(key) > 255:
        raise ApiError("invalid_idempotency_key", _("La clé d'idempotence dépasse 255 caractères."))
    fingerprint = _fingerprint(request)
    existing = IdempotencyRecord.objects.filter(organization=organization, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            status, body = produce()
            IdempotencyRecord.objects.create(organization=organization, key=key, fingerprint=fingerprint,
                                             status_code=status, body=body)
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(organization=organization, key=key).first()
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return Response(body, status=status)


KEEP = timedelta(hours=24)  # a client retries within minutes; a day later the same key is a new request
PURGE_BATCH = 5000


def purge_expired(*, now: datetime | None = None) -> int:
    """Delete the records older than ``KEEP``, a batch per DELETE (Celery beat, hourly); returns how many."""
    cutoff = (now or timezone.now()) - KEEP
    total = 0
    while True:
        ids = list(IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:PURGE_BATCH])
        if not ids:
            return total
        total += IdempotencyRecord.objects.filter(id__in=ids).delete()[0]
