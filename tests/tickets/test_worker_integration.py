"""Through a real Celery worker process, on the real Redis broker (db 15) and this run's test database.

The service commits, ``transaction.on_commit`` publishes the task, the worker (a separate process,
configured only by environment variables like in production) sends the email and marks the
notification. Email goes to files (``filemail://``) so the test can read what was sent. The worker is the
``celery_worker_process`` fixture of tests/conftest.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import CustomerFactory, OrganizationFactory, TicketFactory, acting, member
from worker_helpers import sent_mails, wait_for

from lumiodesk.models import Role
from tickets import services
from tickets.models import CustomerNotification, Status, Ticket
from tickets.tasks import run_ticket_lifecycle

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

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
