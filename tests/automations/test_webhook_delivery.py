"""Webhooks against a real HTTP receiver on loopback: events, signature, retries, giving up, redirects,
timeouts, the test event, the rule action, and two workers never sending the same attempt."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from automation_helpers import Receiver, drain, queued_deliveries, rule
from django.db import connection
from factories import SYSTEM, OrganizationFactory, TicketFactory, acting, member

from automations import services, webhooks
from automations.models import (
    AutomationRun,
    DeliveryStatus,
    Outcome,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from automations.notification_kinds import AutomationNotificationKind
from lumiodesk.crypto import decrypt
from lumiodesk.exceptions import FeatureNotAvailable, InvalidInput
from lumiodesk.models import AgentNotification, AuditLog, Plan, Role
from tickets import services as tickets
from tickets.models import MessageKind, Status

pytestmark = pytest.mark.django_db
ALL_EVENTS = list(WebhookEvent.values)


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """The receivers here listen on loopback: allowed as a self-hosted install would allow its network."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)


def verifier():
    """The verification snippet shown on the settings page, run as a receiver would run it."""
    namespace: dict = {}
    exec(webhooks.VERIFY_SNIPPET, namespace)  # noqa: S102 - our own documentation, tested
    return namespace["verify_lumiodesk_signature"]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def queued(monkeypatch):
    return queued_deliveries(monkeypatch)


@pytest.fixture
def business(world):
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])
    return world


@pytest.fixture
def endpoint(business, receiver):
    endpoint, secret = services.create_endpoint(organization=business.org, actor=acting(business.admin),
                                                url=receiver.url,
                                                events=ALL_EVENTS)
    endpoint.secret = secret
    return endpoint


def test_ticket_created_is_sent_after_commit_signed_and_verifiable(business, endpoint, receiver, queued,
                                                                   django_capture_on_commit_callbacks):
    rule(business.org, actions=[{"type": "add_tag", "tag": "facturation"}])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = TicketFactory(organization=business.org, customer=business.customer, subject="Facture en double")
    assert queued == []  # nothing leaves before the commit
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.PENDING and delivery.ticket_id == ticket.pk
    for callback in callbacks:
        callback()
    assert queued == [delivery.pk]
    assert drain(queued) == ["delivered"]

    [request] = receiver.received
    body = request.json
    assert body["id"] == str(delivery.uuid) == request.headers["X-LumioDesk-Delivery"]
    assert body["event"] == "ticket.created" == request.headers["X-LumioDesk-Event"]
    assert body["organization"] == {"id": business.org.pk, "slug": "acme"}
    data = body["data"]["ticket"]
    assert (data["number"], data["subject"], data["status"]) == (ticket.number, "Facture en double", "new")
    assert data["tags"] == ["facturation"]  # the rules of creation ran before the payload was written
    assert data["customer"]["email"] == "claire.dupont@example.com"
    assert data["url"].endswith(f"/tickets/{ticket.number}/")
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["X-LumioDesk-Signature"].startswith("sha256=")
    verify = verifier()
    assert verify(endpoint.secret, request.headers, request.body) is True
    assert verify("whsec_wrong", request.headers, request.body) is False
    assert verify(endpoint.secret, request.headers, request.body.replace(b"Facture", b"Avoir")) is False

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_excerpt == '{"ok": true}'


def test_assigned_resolved_reopened_to_subscribed_endpoints(business, endpoint, receiver, queued):
    only_resolved, _secret = services.create_endpoint(organization=business.org, actor=acting(business.admin),
                                                      url=receiver.url + "?only=resolved", events=["ticket.resolved"])
    ticket = business.ticket  # created before the endpoints: no ticket.created
    tickets.assign(ticket=ticket, assignee=business.agent, actor=acting(business.manager))
    tickets.change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=acting(business.agent))
    tickets.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Voici.")  # waiting -> open: not a reopening
    tickets.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(business.agent))
    tickets.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Ça recommence.")  # resolved -> open
    events = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").values_list("event", flat=True))
    assert events == ["ticket.assigned", "ticket.resolved", "ticket.reopened"]
    assert list(WebhookDelivery.objects.filter(endpoint=only_resolved).values_list("event", flat=True)) == [
        "ticket.resolved"]
    assigned = json.loads(WebhookDelivery.objects.get(endpoint=endpoint, event="ticket.assigned").body)
    assert assigned["data"]["ticket"]["assignee"]["id"] == business.agent.pk


def test_a_failed_delivery_is_retried_with_growing_delays_then_succeeds(business, endpoint, receiver, queued, clock,
                                                                        django_capture_on_commit_callbacks):
    receiver.responses = [500, 503, 200]
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=business.org, customer=business.customer)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    start = clock.now
    assert drain(queued) == ["retry"]
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + timedelta(minutes=1)

    clock.advance(seconds=59)
    assert webhooks.queue_due() == 0  # not yet
    clock.advance(seconds=1)
    assert webhooks.queue_due() == 1
    assert drain(queued) == ["retry"]
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == clock.now + timedelta(minutes=5)
    clock.advance(minutes=5)
    webhooks.queue_due()
    assert drain(queued) == ["delivered"]

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    codes = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code", "succeeded"))
    assert codes == [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert [r.headers["X-LumioDesk-Delivery"] for r in receiver.received] == [str(delivery.uuid)] * 3
    assert len({r.body for r in receiver.received}) == 1  # the same body each time, freshly signed
    assert all(verifier()(endpoint.secret, r.headers, r.body) for r in receiver.received)


def test_the_retry_schedule_fits_in_24_hours():
    delays = list(webhooks.RETRY_DELAYS)
    assert len(delays) == 6
    assert delays == sorted(delays) and len(set(delays)) == 6
    assert sum(delays, timedelta()) <= timedelta(hours=24)


def test_after_6_failed_retries_the_endpoint_is_disabled_and_the_admins_told(
    business, endpoint, receiver, queued, clock, django_capture_on_commit_callbacks,
):
    receiver.responses = [500] * 10
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=business.org, customer=business.customer)
    first = WebhookDelivery.objects.get(endpoint=endpoint)
    assert drain(queued) == ["retry"]
    with django_capture_on_commit_callbacks(execute=True):  # another event, still waiting for its first attempt
        tickets.change_status(ticket=business.ticket, status=Status.RESOLVED, actor=acting(business.agent))
    second = WebhookDelivery.objects.exclude(pk=first.pk).get(endpoint=endpoint)
    queued.clear()
    WebhookDelivery.objects.filter(pk=second.pk).update(next_attempt_at=clock.now + timedelta(days=2))

    results = []
    for delay in webhooks.RETRY_DELAYS:
        clock.advance(seconds=delay.total_seconds())
        assert webhooks.queue_due() == 1
        results += drain(queued)
    assert results == ["retry"] * 5 + ["failed"]
    first.refresh_from_db()
    assert (first.status, first.attempts, first.next_attempt_at) == (DeliveryStatus.FAILED, 7, None)
    assert len(receiver.received) == 7

    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert "6 échecs" in endpoint.disabled_reason and "HTTP 500" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get(pk=second.pk).status == DeliveryStatus.CANCELLED
    told = AgentNotification.objects.filter(kind=AutomationNotificationKind.WEBHOOK_DISABLED)
    assert list(told.values_list("recipient_id", flat=True)) == [business.admin.pk]  # the Admins
    assert told[0].title == f"Webhook désactivé : {receiver.url}"
    assert told[0].url == f"/settings/webhooks/{endpoint.pk}/"
    assert AuditLog.objects.filter(action="webhook.disabled", target_id=endpoint.pk).exists()

    # Disabled: new events are not queued; re-enabled: they are again.
    TicketFactory(organization=business.org, customer=business.customer)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2
    services.set_endpoint_active(endpoint=endpoint, actor=acting(business.admin), active=True)
    TicketFactory(organization=business.org, customer=business.customer)
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).count() == 1


def test_redirects_are_not_followed(business, endpoint, receiver, queued, django_capture_on_commit_callbacks):
    receiver.responses = [("redirect", "http://elsewhere.example/steal")]
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=business.org, customer=business.customer)
    assert drain(queued) == ["retry"]
    [attempt] = WebhookAttempt.objects.all()
    assert attempt.status_code == 302 and not attempt.succeeded
    assert attempt.error == "redirection non suivie"  # where it pointed is not shown
    assert "elsewhere" not in attempt.response_excerpt
    assert len(receiver.received) == 1


def test_a_slow_receiver_times_out(business, endpoint, receiver, django_capture_on_commit_callbacks, queued):
    receiver.responses = [("sleep", 1.5)]
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=business.org, customer=business.customer)
    assert webhooks.attempt(queued.pop(), timeout=0.3) == "retry"
    [attempt] = WebhookAttempt.objects.all()
    assert attempt.status_code is None and attempt.error == "connexion impossible"  # as a closed port
    assert attempt.duration_ms == 0


def test_a_receiver_that_is_down(business, receiver, queued, django_capture_on_commit_callbacks):
    receiver.stop()
    endpoint, _ = services.create_endpoint(organization=business.org, actor=acting(business.admin), url=receiver.url,
                                           events=ALL_EVENTS)
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=business.org, customer=business.customer)
    assert drain(queued) == ["retry"]
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and attempt.error == "connexion impossible"


def test_the_test_event_is_tried_once_and_never_disables(business, endpoint, receiver, queued,
                                                         django_capture_on_commit_callbacks):
    receiver.responses = [500, 200]
    with django_capture_on_commit_callbacks(execute=True):
        services.send_test_event(endpoint=endpoint, actor=acting(business.manager))
    assert drain(queued) == ["failed"]
    endpoint.refresh_from_db()
    assert endpoint.is_active is True
    with django_capture_on_commit_callbacks(execute=True):
        services.send_test_event(endpoint=endpoint, actor=acting(business.manager))
    assert drain(queued) == ["delivered"]
    assert receiver.received[-1].json["event"] == "webhook.test"
    assert receiver.received[-1].json["data"] == {"message": "Événement de test envoyé depuis LumioDesk."}


def test_the_call_a_webhook_action(business, endpoint, receiver, queued, django_capture_on_commit_callbacks):
    rule(business.org, {"field": "priority", "op": "is", "value": "urgent"},
         actions=[{"type": "webhook", "endpoint": endpoint.pk}], name="Urgent vers PagerDuty")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = TicketFactory(organization=business.org, customer=business.customer, priority="urgent")
    drain(queued)
    by_event = {r.json["event"]: r.json for r in receiver.received}
    assert set(by_event) == {"automation.rule", "ticket.created"}
    assert by_event["automation.rule"]["data"]["rule"]["name"] == "Urgent vers PagerDuty"
    assert by_event["automation.rule"]["data"]["ticket"]["id"] == ticket.pk
    services.set_endpoint_active(endpoint=endpoint, actor=acting(business.admin), active=False)
    other = TicketFactory(organization=business.org, customer=business.customer, priority="urgent")
    [run] = AutomationRun.objects.filter(ticket=other)
    assert (run.actions[0]["outcome"], run.actions[0]["detail"]) == (Outcome.SKIPPED, "l'endpoint est désactivé")


def test_starter_has_no_webhooks(world, queued):
    with pytest.raises(FeatureNotAvailable, match="webhooks n'est pas inclus dans le forfait Starter"):
        services.create_endpoint(organization=world.org, actor=acting(world.admin), url="https://hooks.example/x",
                                 events=ALL_EVENTS)
    # An endpoint kept after a downgrade receives nothing.
    WebhookEndpoint.objects.create(organization=world.org, url="https://hooks.example/x", events=ALL_EVENTS,
                                   secret_encrypted="x")
    TicketFactory(organization=world.org, customer=world.customer)
    assert not WebhookDelivery.objects.exists()


def test_imported_tickets_send_nothing(business, endpoint):
    ticket = TicketFactory(organization=business.org, customer=business.customer, imported=True)
    tickets.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(business.agent))
    assert not WebhookDelivery.objects.exists()


def test_the_secret_is_stored_encrypted(endpoint):
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted
    assert endpoint.secret.startswith("whsec_") and endpoint.secret not in stored
    assert decrypt(stored) == endpoint.secret
    new = services.rotate_secret(endpoint=endpoint, actor=SYSTEM)
    assert new != endpoint.secret and decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted) == new


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://hooks.example/x", "https://"),
    ("https://user:pass@hooks.example/x", "identifiants"),
    ("http://127.0.0.1:8000/tickets/", "LumioDesk lui-même"),
    ("not a url", "https://"),
])
def test_webhook_urls(business, url, message, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    with pytest.raises(InvalidInput, match=message):
        services.create_endpoint(organization=business.org, actor=acting(business.admin), url=url, events=ALL_EVENTS)


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_attempt(monkeypatch, receiver):
    org = OrganizationFactory(plan=Plan.SCALE)
    member(org, Role.ADMIN)
    queued = queued_deliveries(monkeypatch)
    endpoint, _ = services.create_endpoint(organization=org, actor=SYSTEM, url=receiver.url, events=ALL_EVENTS)
    TicketFactory(organization=org)
    [pk] = queued
    receiver.responses = [("sleep", 0.5)]
    barrier = threading.Barrier(2)
    results = []

    def worker():
        barrier.wait()
        try:
            results.append(webhooks.attempt(pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["delivered", "not_due"]
    assert len(receiver.received) == 1
    assert WebhookAttempt.objects.filter(delivery__endpoint=endpoint).count() == 1


def test_the_delivery_log_keeps_30_days(business, endpoint, queued, clock):
    old = TicketFactory(organization=business.org, customer=business.customer)
    WebhookDelivery.objects.filter(ticket=old).update(status=DeliveryStatus.DELIVERED)
    pending = TicketFactory(organization=business.org, customer=business.customer)
    clock.advance(days=31)
    recent = TicketFactory(organization=business.org, customer=business.customer)
    assert webhooks.purge_old_deliveries() == 1
    assert set(WebhookDelivery.objects.values_list("ticket_id", flat=True)) == {pending.pk, recent.pk}
