"""Ticket volume alerts (section 9) from the ticket pipeline: 80/100/120 %, once per organization and month,
exactly once when tickets are created at the same time (threads, real PostgreSQL)."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection
from factories import SYSTEM, CustomerFactory, OrganizationFactory, bulk_tickets, member
from factories import TicketFactory as _TicketFactory

from billing import alerts
from billing.models import TicketVolumeAlert
from lumiodesk.models import AgentNotification, Role
from tickets import services as ticket_services

STARTER_LIMIT = 1_000


def _org():
    org = OrganizationFactory(plan="starter")
    owner = member(org, Role.ADMIN, email=f"owner-{org.slug}@x.test")
    other_admin = member(org, Role.ADMIN, email=f"admin2-{org.slug}@x.test")
    agent = member(org, Role.AGENT)
    return org, owner, other_admin, agent


@pytest.mark.django_db
def test_thresholds_alert_admins_once_and_120_advises_the_owner(django_capture_on_commit_callbacks):
    org, owner, other_admin, agent = _org()
    bulk_tickets(org, 798)
    with django_capture_on_commit_callbacks(execute=True):
        _TicketFactory(organization=org)  # 799: nothing
    assert not TicketVolumeAlert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        _TicketFactory(organization=org)  # 800: 80 %
        _TicketFactory(organization=org)  # 801: already sent
    assert list(TicketVolumeAlert.objects.values_list("threshold", flat=True)) == [80]
    notes = AgentNotification.objects.filter(organization=org, kind="ticket_volume")
    assert sorted(notes.values_list("recipient_id", flat=True)) == sorted([owner.pk, other_admin.pk])  # not agents
    assert "80 %" in notes.first().title and "mois calendaire UTC" in notes.first().body
    bulk_tickets(org, 398)  # 1 199
    with django_capture_on_commit_callbacks(execute=True):
        _TicketFactory(organization=org)  # 1 200: 100 and 120 at once
    assert sorted(TicketVolumeAlert.objects.values_list("threshold", flat=True)) == [80, 100, 120]
    advice = AgentNotification.objects.get(organization=org, kind="plan_advice")
    assert advice.recipient == owner and "Business" in advice.body
    assert alerts.check_volume(org) == []  # nothing twice


@pytest.mark.django_db
def test_a_new_month_starts_again(clock):
    org, *_ = _org()
    clock.set(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))
    bulk_tickets(org, 800)
    assert alerts.check_volume(org) == [80]
    clock.set(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))  # UTC month: December, no ticket yet
    assert alerts.check_volume(org) == []
    months = list(TicketVolumeAlert.objects.filter(organization=org).values_list("month", flat=True))
    assert [m.month for m in months] == [11]


@pytest.mark.django_db(transaction=True)
def test_exactly_once_when_tickets_are_created_at_the_same_time():
    org, owner, other_admin, _agent = _org()
    customer = CustomerFactory(organization=org)
    bulk_tickets(org, 796)  # 4 threads each create one: 797..800 and whoever commits last sees 800
    start = threading.Barrier(8)
    errors = []

    def create(i):
        try:
            start.wait(timeout=10)
            ticket_services.create_ticket(organization=org, customer=customer, subject=f"Simultané {i}",
                                          body="x", actor=SYSTEM, channel="manual")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def check():
        try:
            start.wait(timeout=10)
            alerts.check_volume(org)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert TicketVolumeAlert.objects.filter(organization=org, threshold=80).count() == 1
    assert AgentNotification.objects.filter(organization=org, kind="ticket_volume").count() == 2  # two Admins
