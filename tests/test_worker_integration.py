"""Through a real Celery worker process, on the real Redis broker (db 15) and this run's test database.

The service commits, ``transaction.on_commit`` publishes the task, the worker (a separate process,
configured only by environment variables like in production) sends the email and marks the
notification. Email goes to files (``filemail://``) so the test can read what was sent.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from conftest import TEST_REDIS_URL, celery_test_queue
from django.conf import settings
from django.db import connection
from factories import CustomerFactory, OrganizationFactory, TicketFactory, acting, member

from lumiodesk.models import Role
from tickets import services
from tickets.models import CustomerNotification, Status, Ticket
from tickets.tasks import run_ticket_lifecycle

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
TIMEOUT = 45  # seconds; the worker needs a few to start Django


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    path = tmp_path / "mails"
    path.mkdir()
    return path


@pytest.fixture
def celery_worker_process(transactional_db, mail_dir, tmp_path):
    """A real ``celery worker`` on this test's database and this run's own queue; stopped afterwards."""
    queue = celery_test_queue()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": TEST_REDIS_URL,
        "EMAIL_URL": f"filemail:///{mail_dir}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "lumiodesk.settings",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "lumiodesk",
            "worker",
            "-P",
            "solo",
            "-c",
            "1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
            "-n",
            f"{queue}@%h",
            "--",
            f"task.default_queue={queue}",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log_path = log_path
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown
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


def sent_mails(mail_dir: Path) -> list[dict[str, str]]:
    """The emails the file backend wrote: subject, recipient and text body, decoded."""
    mails = []
    for path in sorted(mail_dir.glob("*.log")):
        for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if not raw.strip():
                continue
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            text = msg.get_body(preferencelist=("plain",))
            mails.append(
                {"subject": str(msg["Subject"]), "to": str(msg["To"]), "body": text.get_content() if text else ""}
            )
    return mails


def test_worker_sends_the_notification_email_after_commit(celery_worker_process, mail_dir):
    org = OrganizationFactory(name="Acme")
    agent = member(org, Role.AGENT, first_name="Agathe")
    customer = CustomerFactory(organization=org, first_name="Claire", email="claire@example.com")
    ticket = TicketFactory(organization=org, customer=customer, subject="Facture en double")

    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(agent))  # commits, then publishes
    notification = CustomerNotification.objects.get(ticket=ticket)
    assert notification.email is True

    wait_for(
        lambda: CustomerNotification.objects.filter(pk=notification.pk, emailed_at__isnull=False).exists(),
        celery_worker_process,
        "the worker to send the email",
    )
    [mail] = sent_mails(mail_dir)
    assert mail["subject"] == "Ticket de support : Résolu [#1]"
    assert mail["to"] == "claire@example.com"
    assert "Votre ticket 'Facture en double' est maintenant résolu." in mail["body"]


def test_worker_runs_the_lifecycle_and_the_email_it_queues(celery_worker_process, mail_dir):
    org = OrganizationFactory(name="Acme")
    customer = CustomerFactory(organization=org, first_name="Claire", email="claire@example.com")
    ticket = TicketFactory(organization=org, customer=customer, subject="Imprimante")
    agent = member(org, Role.AGENT)
    services.change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=acting(agent))
    Ticket.objects.filter(pk=ticket.pk).update(status_changed_at=ticket.status_changed_at - timedelta(days=8))

    run_ticket_lifecycle.delay()

    wait_for(
        lambda: Ticket.objects.filter(pk=ticket.pk, status=Status.CLOSED).exists(),
        celery_worker_process,
        "the lifecycle to close the ticket",
    )
    closing = CustomerNotification.objects.get(ticket=ticket, kind="closed")
    wait_for(
        lambda: CustomerNotification.objects.filter(pk=closing.pk, emailed_at__isnull=False).exists(),
        celery_worker_process,
        "the closing email",
    )
    subjects = {m["subject"]: m["body"] for m in sent_mails(mail_dir)}
    assert "fermé faute de réponse" in subjects["Ticket de support : Fermé [#1]"]  # the explanation
