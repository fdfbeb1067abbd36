"""Webhooks (section 12): what is sent, how it is signed, delivered, retried and given up.

Events: ``ticket.created``, ``ticket.assigned``, ``ticket.resolved``, ``ticket.reopened`` (from resolved or
closed back to open), to the endpoints subscribed to them; ``automation.rule`` when a rule's "call a
webhook" action names an endpoint; ``webhook.test`` from the settings page. Imported tickets send none.
Business and Scale only (like the API): on Starter nothing is queued.

Outbox: the delivery row (with the exact JSON body) is written in the transaction of the ticket change;
the Celery task is queued with ``transaction.on_commit``. A rolled-back change sends nothing; a change that
commits is delivered even if the broker was down at that moment (the retry sweeper queues it again).
Webhook calls happen outside any database transaction, so a slow or failing receiver never holds a lock
and never rolls back a ticket.

One attempt: POST the body with a 10 s timeout through ``lumiodesk.outbound`` (the address is checked at
delivery time and the connection made to that very address; local, private and reserved addresses are
refused unless ``WEBHOOK_ALLOWED_NETWORKS`` lists them); 2xx is a success; redirects are not followed (a 3xx is
a failure that does not show where it pointed); a connection failure reads "connexion impossible", whatever
its cause; no proxy-level retry. A failed delivery is tried again 6 times, 1 min,
5 min, 30 min, 2 h, 6 h and 15 h after the previous failure (23 h 36 min in all). When the 6th retry
fails, the delivery is given up, the endpoint is disabled (its other pending deliveries are cancelled)
and the organization's Admins are notified. A worker claims an attempt with a conditional UPDATE
(``claimed_until``), so two workers never send the same attempt; a crashed worker's claim expires.

Signature: ``X-LumioDesk-Signature: sha256=<hex>``, the HMAC-SHA256 with the endpoint's secret of
``"<X-LumioDesk-Timestamp>.<raw body>"``; see ``VERIFY_SNIPPET``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from billing.catalogue import Feature
from billing.services import has_feature
from lumiodesk import audit, notifications, outbound
from lumiodesk.crypto import decrypt
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import user_display_name
from tickets.models import Status, Ticket, TicketTag
from tickets.pipeline import ChangeKind as Change
from tickets.pipeline import TicketChange

from .models import (
    RULE_EVENT,
    TEST_EVENT,
    DeliveryStatus,
    Outcome,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from .notification_kinds import AutomationNotificationKind

log = logging.getLogger(__name__)

RETRY_DELAYS = (
    timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
    timedelta(hours=2), timedelta(hours=6), timedelta(hours=15),
)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
TIMEOUT_SECONDS = 10
CLAIM_MARGIN = timedelta(seconds=60)
DELIVERY_RETENTION = timedelta(days=30)  # the delivery log keeps a month of attempts
EXCERPT = 500

SIGNATURE_HEADER = "X-LumioDesk-Signature"
TIMESTAMP_HEADER = "X-LumioDesk-Timestamp"
EVENT_HEADER = "X-LumioDesk-Event"
DELIVERY_HEADER = "X-LumioDesk-Delivery"
USER_AGENT = "LumioDesk-Webhooks/1.0"

VERIFY_SNIPPET = '''import hashlib
import hmac
import time


def verify_lumiodesk_signature(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """True if the request comes from LumioDesk.

    ``headers``: the request's headers, a case-insensitive mapping (Django's and Flask's ``request.headers``);
    ``body``: the raw request body, as received (bytes, before any JSON parsing).
    """
    timestamp = headers["X-LumioDesk-Timestamp"]
    signature = headers["X-LumioDesk-Signature"].removeprefix("sha256=")
    if abs(time.time() - int(timestamp)) > tolerance:
        return False  # too old: a replayed request
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)
'''


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def validate_url(url: str) -> str:
    """http(s), a host, no credentials, not LumioDesk itself, not a local, private or reserved address (checked
    again at every delivery: see ``lumiodesk.outbound``)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidInput(_("URL invalide.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(_("L'URL doit commencer par https:// (ou http://) et nommer un serveur."))
    if parts.username or parts.password:
        raise InvalidInput(_("L'URL ne doit pas contenir d'identifiants : le secret signe chaque envoi."))
    if len(url) > 500:
        raise InvalidInput(_("L'URL ne peut dépasser 500 caractères."))
    try:
        outbound.check_url(url)
    except outbound.RefusedDestination as exc:
        raise InvalidInput(str(exc)) from None
    return url


# --- what is sent --------------------------------------------------------------------------------------------


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "email": user.email, "name": user_display_name(user)}


def ticket_data(ticket: Ticket) -> dict[str, Any]:
    customer = ticket.customer
    company = customer.company if customer.company_id else None
    tags = sorted(TicketTag.objects.filter(ticket_id=ticket.pk).values_list("tag__name", flat=True))
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "tags": tags,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "url": settings.SITE_URL + reverse("tickets:detail", args=[ticket.number]),
        "customer": {
            "id": customer.pk, "email": customer.email, "name": customer.full_name,
            "company": company.name if company else None,
        },
        "assignee": _person(ticket.assignee) if ticket.assignee_id else None,
    }


def _body(delivery: WebhookDelivery, organization, data: dict, now: datetime) -> str:
    payload = {
        "id": str(delivery.uuid),
        "event": delivery.event,
        "occurred_at": now.isoformat(),
        "organization": {"id": organization.pk, "slug": organization.slug},
        "data": data,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def enqueue(*, endpoints: Sequence[WebhookEndpoint], event: str, data: dict, ticket: Ticket | None = None,
            now: datetime | None = None, is_test: bool = False) -> list[WebhookDelivery]:
    """Write the deliveries (in the caller's transaction) and queue them after the commit."""
    if not endpoints:
        return []
    now = now or timezone.now()
    organization = endpoints[0].organization
    deliveries = []
    for endpoint in endpoints:
        d = WebhookDelivery(
            organization_id=endpoint.organization_id, endpoint=endpoint, event=event, ticket=ticket,
            is_test=is_test, next_attempt_at=now, created_at=now,
        )
        d.body = _body(d, organization, data, now)
        deliveries.append(d)
    WebhookDelivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: queue(ids))
    return deliveries


def queue(delivery_ids: Sequence[int]) -> None:
    for pk in delivery_ids:
        try:
            deliver_webhook.delay(pk)
        except Exception:  # noqa: BLE001 - committed; the sweeper (deliver_due_webhooks) queues it again
            log.exception("could not queue webhook delivery %s", pk)


def event_for(change: str, *, old=None, new=None) -> str | None:
    if change == Change.CREATED:
        return WebhookEvent.TICKET_CREATED
    if change == Change.ASSIGNED and new:
        return WebhookEvent.TICKET_ASSIGNED
    if change == Change.STATUS and new == Status.RESOLVED:
        return WebhookEvent.TICKET_RESOLVED
    if change == Change.STATUS and new == Status.OPEN and old in (Status.RESOLVED, Status.CLOSED):
        return WebhookEvent.TICKET_REOPENED
    return None


_SUBSCRIBED_SQL = (
    "SELECT id FROM automations_webhookendpoint WHERE organization_id = %s AND is_active AND events @> %s::varchar[]"
)


def on_ticket_event(ticket: Ticket, change: str, *, old=None, new=None, now: datetime) -> list[WebhookDelivery]:
    """A ticket event, inside the service's transaction: one delivery per subscribed active endpoint."""
    event = event_for(change, old=old, new=new)
    if event is None or ticket.imported or not has_feature(ticket.organization, Feature.WEBHOOKS):
        return []
    # Most organizations subscribe nothing: one small query says so before any model is built.
    with connection.cursor() as cur:
        cur.execute(_SUBSCRIBED_SQL, [ticket.organization_id, [event]])
        ids = [pk for (pk,) in cur.fetchall()]
    if not ids:
        return []
    endpoints = list(WebhookEndpoint.objects.filter(pk__in=ids).select_related("organization").order_by("pk"))
    return enqueue(endpoints=endpoints, event=event, data={"ticket": ticket_data(ticket)}, ticket=ticket, now=now)


def on_ticket_change(c: TicketChange) -> None:
    """Subscriber of the ticket pipeline: the outbox rows, written now (a committed change always has its
    deliveries); ``enqueue`` hands them to Celery after the commit."""
    on_ticket_event(c.ticket, c.kind, old=c.old, new=c.new, now=c.now)
    return None


def call_from_rule(endpoint_id: int, *, ticket: Ticket, rule) -> tuple[str, str]:
    """The "call a webhook" action: (outcome, reason) for the journal."""
    if not has_feature(ticket.organization, Feature.WEBHOOKS):
        return Outcome.SKIPPED, _("les webhooks ne sont pas inclus dans le forfait de l'organisation")
    endpoint = (
        WebhookEndpoint.objects.filter(organization_id=ticket.organization_id, pk=endpoint_id)
        .select_related("organization").first()
    )
    if endpoint is None:
        return Outcome.SKIPPED, _("l'endpoint a été supprimé")
    if not endpoint.is_active:
        return Outcome.SKIPPED, _("l'endpoint est désactivé")
    [delivery] = enqueue(
        endpoints=[endpoint], event=RULE_EVENT, ticket=ticket,
        data={"rule": {"id": rule.pk, "name": rule.name}, "ticket": ticket_data(ticket)},
    )
    return Outcome.DONE, _("envoi %(id)s mis en file") % {"id": str(delivery.uuid)[:8]}


def test_delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    with override(endpoint.organization.language):
        message = _("Événement de test envoyé depuis LumioDesk.")
    [delivery] = enqueue(endpoints=[endpoint], event=TEST_EVENT, data={"message": message}, is_test=True)
    return delivery


# --- sending -------------------------------------------------------------------------------------------------


def _excerpt(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:EXCERPT]


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> tuple[int | None, str, str]:
    """(status code or None, error, response excerpt) of one POST, through ``lumiodesk.outbound``: the address
    is checked when the call is made and the socket connects to that very address. The error is generic:
    the delivery log never tells a refused connection from a timeout or a server that does not speak HTTP."""
    try:
        response = outbound.post(url, body, headers, timeout=timeout, read=EXCERPT)
    except outbound.RefusedDestination:
        return None, _("destination refusée (adresse locale, privée ou réservée)"), ""
    except outbound.ConnectionFailed as exc:
        log.info("webhook to %s failed: %s", url, exc)
        return None, _("connexion impossible"), ""
    if response.redirect:
        return response.status, _("redirection non suivie"), ""
    error = "" if 200 <= response.status < 300 else f"HTTP {response.status}"
    return response.status, error, _excerpt(response.excerpt)


def _claim(delivery_id: int, now: datetime, timeout: float) -> bool:
    return bool(
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=timeout) + CLAIM_MARGIN)
    )


def attempt(delivery_id: int, *, timeout: float = TIMEOUT_SECONDS) -> str:
    """Send one delivery if it is due and nobody else is sending it; returns what happened."""
    now = timezone.now()
    if not _claim(delivery_id, now, timeout):
        return "not_due"
    d = WebhookDelivery.objects.select_related("endpoint", "organization").get(pk=delivery_id)
    endpoint = d.endpoint
    if not d.is_test and (not endpoint.is_active or not has_feature(d.organization, Feature.WEBHOOKS)):
        WebhookDelivery.objects.filter(pk=d.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED, next_attempt_at=None, claimed_until=None,
            last_error=_("endpoint désactivé") if not endpoint.is_active else _("forfait sans webhooks"),
        )
        return "cancelled"
    body = d.body.encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: d.event,
        DELIVERY_HEADER: str(d.uuid),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(decrypt(endpoint.secret_encrypted), timestamp, body),
    }
    started = timezone.now()
    t0 = time.perf_counter()
    code, error, excerpt = post(endpoint.url, body, headers, timeout=timeout)
    # The time is shown only with an answer: how long a failed connection took would tell a filtered port
    # from a closed one.
    duration = int((time.perf_counter() - t0) * 1000) if code is not None else 0
    ok = code is not None and 200 <= code < 300
    return _record(d.pk, started=started, duration=duration, code=code, error=error, excerpt=excerpt, ok=ok)


@transaction.atomic
def _record(delivery_id: int, *, started, duration, code, error, excerpt, ok) -> str:
    d = WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint__organization").get(
        pk=delivery_id)
    now = timezone.now()
    number = d.attempts + 1
    WebhookAttempt.objects.create(
        organization_id=d.organization_id, delivery=d, number=number, started_at=started, duration_ms=duration,
        status_code=code, error=error[:500], response_excerpt=excerpt, succeeded=ok,
    )
    d.attempts, d.last_status_code, d.last_error, d.claimed_until = number, code, error[:500], None
    if ok:
        d.status, d.delivered_at, d.next_attempt_at = DeliveryStatus.DELIVERED, now, None
        result = "delivered"
    elif d.status != DeliveryStatus.PENDING:
        result = d.status  # cancelled while it was being sent (the endpoint was disabled or deleted)
    elif d.is_test or number >= MAX_ATTEMPTS:
        d.status, d.next_attempt_at = DeliveryStatus.FAILED, None
        result = "failed"
        if not d.is_test:
            disable_after_failures(d.endpoint, last_error=error or f"HTTP {code}", now=now)
    else:
        d.next_attempt_at = now + RETRY_DELAYS[number - 1]
        result = "retry"
    d.save(update_fields=["attempts", "last_status_code", "last_error", "claimed_until", "status", "delivered_at",
                          "next_attempt_at"])
    return result


def disable_after_failures(endpoint: WebhookEndpoint, *, last_error: str, now: datetime) -> bool:
    """Disable the endpoint (once), cancel what it still had to receive and tell the Admins."""
    org = endpoint.organization
    with override(org.language):
        reason = _("%(n)s échecs de livraison en 24 heures (dernier : %(e)s)") % {
            "n": MAX_ATTEMPTS - 1, "e": last_error[:200]}
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now,
    )
    if not changed:
        return False
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING, is_test=False).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None, claimed_until=None, last_error=reason[:500],
    )
    audit.record(organization=org, actor=None, action="webhook.disabled", target_type="webhook",
                 target_id=endpoint.pk, url=endpoint.url, reason=reason)
    admins = notifications.agents_of(org.pk, capability="notifications.admin")
    with override(org.language):
        title = _("Webhook désactivé : %(url)s") % {"url": endpoint.url}
        body = _("Après %(n)s échecs, LumioDesk a désactivé ce webhook. Corrigez le serveur qui le reçoit, "
                 "envoyez un événement de test, puis réactivez-le.") % {"n": MAX_ATTEMPTS - 1} + " " + reason
    url = reverse("automations:webhook_detail", args=[endpoint.pk])
    notifications.notify(
        organization_id=org.pk, kind=AutomationNotificationKind.WEBHOOK_DISABLED, at=now,
        drafts=[notifications.Draft(recipient_id=a, title=title, body=body, url=url,
                                    dedup_key=f"webhook-disabled:{endpoint.pk}:{now.isoformat()}") for a in admins],
    )
    return True


def queue_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """The retry sweeper (Celery beat, every minute): queue the pending deliveries whose time has come."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at").values_list("id", flat=True)[:limit]
    )
    queue(ids)
    return len(ids)


def purge_old_deliveries(*, now: datetime | None = None, batch: int = 2000) -> int:
    """Beat, daily: forget deliveries (and their attempts) older than ``DELIVERY_RETENTION``, endpoint by
    endpoint along the log's index; pending ones stay until they are delivered or given up."""
    cutoff = (now or timezone.now()) - DELIVERY_RETENTION
    total = 0
    for endpoint_id in WebhookEndpoint.objects.values_list("id", flat=True).iterator():
        while True:
            ids = list(
                WebhookDelivery.objects.filter(endpoint_id=endpoint_id, created_at__lt=cutoff)
                .exclude(status=DeliveryStatus.PENDING).values_list("id", flat=True)[:batch]
            )
            if not ids:
                break
            WebhookAttempt.objects.filter(delivery_id__in=ids).delete()
            WebhookDelivery.objects.filter(pk__in=ids).delete()
            total += len(ids)
    return total


# Defined beside ``queue``, which queues it, and listed in ``automations.tasks`` under its registered name.
@shared_task(name="automations.tasks.deliver_webhook", soft_time_limit=30, time_limit=45)  # one POST: 10 s timeout
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of one delivery; does nothing if it is not due or another worker is sending it."""
    return attempt(delivery_id)
