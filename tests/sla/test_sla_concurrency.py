"""Two workers at once, on committed data: the SLA scan and the daily digest still act once."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from factories import CustomerFactory, OrganizationFactory, TicketFactory, member

from lumiodesk.models import AgentNotification, NotificationPreference, Role
from sla import alerts, digest
from sla.models import DigestRun, SlaAlert
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

PARIS = ZoneInfo("Europe/Paris")


def in_threads(fn, n: int = 2) -> list:
    """Run ``fn`` in ``n`` threads started together (each with its own database connection)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return results


def test_two_scans_at_once_send_each_alert_once(clock):
    org = OrganizationFactory()
    agent = member(org, Role.AGENT)
    customer = CustomerFactory(organization=org)
    tickets = [TicketFactory(organization=org, customer=customer, priority="urgent", assignee=agent)
               for _ in range(40)]
    at = datetime(2025, 3, 10, 10, 15, tzinfo=PARIS)

    results = in_threads(lambda: alerts.run_scan(now=at, batch=7))

    assert sum(r["warnings"] for r in results) == 40
    assert SlaAlert.objects.count() == 40
    assert AgentNotification.objects.filter(kind="sla_warning").count() == 40
    assert set(SlaAlert.objects.values_list("ticket_id", flat=True)) == {t.pk for t in tickets}
    assert not Ticket.objects.filter(sla_next_alert_at__lte=at).exists()


def test_the_unique_constraint_alone_stops_a_duplicate(clock):
    """Even without the row locks (another code path, a bug), an alert cannot be inserted twice."""
    org = OrganizationFactory()
    ticket = TicketFactory(organization=org, priority="urgent")
    ticket = Ticket.objects.get(pk=ticket.pk)
    due = ticket.first_response_due_at

    results = in_threads(lambda: alerts._insert_alerts([(ticket, "first_response_warning", due)], clock.now), n=4)

    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert SlaAlert.objects.count() == 1


def test_two_digest_runs_at_once_send_one_digest(clock):
    org = OrganizationFactory()
    manager = member(org, Role.MANAGER)
    NotificationPreference.objects.create(organization=org, user=manager, kind="daily_digest", in_app=True,
                                          email=True)
    at = datetime(2025, 3, 11, 8, 31, tzinfo=PARIS)

    results = in_threads(lambda: digest.send_digests(now=at), n=3)

    assert sum(results) == 1
    assert DigestRun.objects.filter(organization=org).count() == 1
    assert AgentNotification.objects.filter(kind="daily_digest", recipient=manager).count() == 1
