"""The SLA scan through a real Celery worker on Redis (``celery_worker_process``, tests/conftest.py): the task runs
in another process, records the breach, notifies the assignee and sends the email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import CustomerFactory, OrganizationFactory, TicketFactory, member
from worker_helpers import sent_mails, wait_for

from lumiodesk.models import AgentNotification, Role
from sla.models import SlaAlert
from sla.tasks import run_sla_scan
from tickets.models import Ticket

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_worker_runs_the_sla_scan_and_notifies(celery_worker_process, mail_dir):
    org = OrganizationFactory(name="Acme")
    agent = member(org, Role.AGENT, first_name="Agathe", email="agathe@acme.test")
    customer = CustomerFactory(organization=org)
    ticket = TicketFactory(organization=org, customer=customer, subject="Tout est en panne", priority="urgent",
                           assignee=agent)
    # Urgent tickets are alerted at any hour: make this one overdue now, whatever the time of the run.
    due = timezone.now() - timedelta(minutes=1)
    Ticket.objects.filter(pk=ticket.pk).update(first_response_due_at=due, sla_due_at=due, sla_next_alert_at=due)

    run_sla_scan.delay()

    wait_for(lambda: AgentNotification.objects.filter(kind="sla_breach", emailed_at__isnull=False).exists(),
             celery_worker_process, "the worker to notify the breach and send its email")
    alert = SlaAlert.objects.get(ticket=ticket)
    assert (alert.kind, alert.due_at) == ("first_response_breach", due)
    notification = AgentNotification.objects.get(kind="sla_breach")
    assert notification.recipient == agent
    emails = {m["subject"].strip(): m for m in sent_mails(mail_dir) if m["to"] == "agathe@acme.test"}
    email = emails[f"[Acme] SLA dépassé : #{ticket.number} Tout est en panne"]
    assert "La première réponse était attendue avant le" in email["body"]
    assert f"/notifications/{notification.pk}/" in email["body"]
    assert not Ticket.objects.filter(pk=ticket.pk, sla_next_alert_at__lte=timezone.now()).exists()
