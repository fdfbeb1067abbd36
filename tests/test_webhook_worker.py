"""A webhook end to end through a real Celery worker on the Redis broker (like tests/test_worker_integration.py).

The ticket service commits, ``on_commit`` publishes ``deliver_webhook``, the worker (a separate process,
configured by environment variables like in production) signs and POSTs to a real HTTP receiver on
loopback, which answers 500: the retry sweeper (``deliver_due_webhooks``, normally Celery beat) then
queues the retry, which the worker delivers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from automation_helpers import Receiver
from conftest import TEST_REDIS_URL, celery_test_queue
from django.conf import settings
from django.db import connection
from django.utils import timezone
from factories import SYSTEM, CustomerFactory, OrganizationFactory, TicketFactory, member

from automations import services, webhooks
from automations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from automations.tasks import deliver_due_webhooks
from lumiodesk.models import Plan, Role

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
TIMEOUT = 45


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    queue = celery_test_queue()
    env = {
        **os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": TEST_REDIS_URL, "EMAIL_URL": "dummymail://",
        "MEDIA_ROOT": str(tmp_path / "media"), "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "lumiodesk.settings",
        "PYTHONUNBUFFERED": "1", "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the receiver is on loopback
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "lumiodesk", "worker", "-P", "solo", "-c", "1", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "--loglevel", "INFO", "-n", f"{queue}@%h", "--",
         f"task.default_queue={queue}"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    process.log_path = log_path
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        log.close()
        client = redis.Redis.from_url(TEST_REDIS_URL)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()


def wait_for(predicate, process, what: str):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            break
        time.sleep(0.25)
    log = process.log_path.read_text(errors="replace")[-6000:]
    pytest.fail(f"timed out waiting for {what} (worker exit code {process.poll()}).\nWorker log:\n{log}")


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
