"""A webhook end to end through a real Celery worker on the Redis broker (``celery_worker_process``, conftest.py).

The ticket service commits, ``on_commit`` publishes ``deliver_webhook``, the worker (a separate process,
configured by environment variables like in production) signs and POSTs to a real HTTP receiver on
loopback, which answers 500: the retry sweeper (``deliver_due_webhooks``, normally Celery beat) then
queues the retry, which the worker delivers.
"""

from __future__ import annotations

import pytest
from automation_helpers import Receiver
from django.utils import timezone
from factories import SYSTEM, CustomerFactory, OrganizationFactory, TicketFactory, member
from worker_helpers import wait_for

from automations import services, webhooks
from automations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from automations.tasks import deliver_due_webhooks
from lumiodesk.models import Plan, Role

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)  # as the worker's environment says


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_a_webhook_is_delivered_by_the_worker_and_retried(celery_worker_process, receiver):
    org = OrganizationFactory(name="Acme", slug="acme", plan=Plan.BUSINESS)
    member(org, Role.ADMIN)
    endpoint, secret = services.create_endpoint(organization=org, actor=SYSTEM, url=receiver.url,
                                                events=["ticket.created"])
    receiver.responses = [500]  # the first attempt fails, the retry succeeds
    customer = CustomerFactory(organization=org, email="claire@example.com")
    ticket = TicketFactory(organization=org, customer=customer, subject="Facture en double")  # commits, publishes
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    wait_for(lambda: WebhookAttempt.objects.filter(delivery=delivery).exists(), celery_worker_process,
             "the worker's first attempt")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.next_attempt_at > timezone.now()  # in about a minute

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # the minute has passed
    deliver_due_webhooks.delay()  # what Celery beat runs every minute
    wait_for(lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.DELIVERED).exists(),
             celery_worker_process, "the retry to be delivered")

    assert len(receiver.received) == 2
    request = receiver.received[-1]
    assert request.json["event"] == "ticket.created"
    assert request.json["id"] == str(delivery.uuid)
    assert request.json["data"]["ticket"]["number"] == ticket.number
    expected = webhooks.sign(secret, request.headers["X-LumioDesk-Timestamp"], request.body)
    assert request.headers["X-LumioDesk-Signature"] == expected
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [500, 200]
