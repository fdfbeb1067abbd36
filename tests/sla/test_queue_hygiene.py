"""Queue hygiene (002): "En cours" tickets without activity for 24 h and urgent tickets whose customer had no
reply for 2 h: a shared view of the list, and one notification per stall (Celery beat)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from factories import TicketFactory, acting

from lumiodesk.models import AgentNotification
from sla.dashboard import hygiene
from sla.models import QueueAlert
from tickets import services
from tickets.models import MessageKind, Status

pytestmark = pytest.mark.django_db


def notified(user) -> list[str]:
    return list(AgentNotification.objects.filter(recipient=user, kind="queue_hygiene").order_by("id")
                .values_list("title", flat=True))


def test_in_progress_without_activity_for_24_hours(clock, world):
    t = TicketFactory(organization=world.org, assignee=world.agent, actor=world.manager, subject="Imprimante")
    services.change_status(ticket=t, status=Status.OPEN, actor=acting(world.agent))
    clock.advance(hours=23)
    assert hygiene.run_queue_hygiene()["tickets"] == 0
    clock.advance(hours=2)
    assert hygiene.run_queue_hygiene()["tickets"] == 1
    assert notified(world.agent) == [f"En cours sans activité depuis 24 h : #{t.number} Imprimante"]
    assert notified(world.manager) == []  # the assignee only
    assert hygiene.run_queue_hygiene()["tickets"] == 0  # once
    assert QueueAlert.objects.filter(ticket=t).count() == 1
    services.add_message(ticket=t, kind=MessageKind.NOTE, body="Je regarde", actor=acting(world.agent))  # activity
    clock.advance(hours=25)
    hygiene.run_queue_hygiene()
    assert len(notified(world.agent)) == 2  # stalled anew


def test_urgent_customers_hear_from_us_every_2_hours(clock, world):
    t = TicketFactory(organization=world.org, priority="urgent", subject="Site en panne")
    clock.advance(hours=1)
    assert hygiene.run_queue_hygiene()["tickets"] == 0
    clock.advance(hours=1, minutes=5)
    assert hygiene.run_queue_hygiene()["tickets"] == 1
    # Nobody assigned: every agent of the organization hears of it.
    title = f"Urgent sans nouvelles depuis 2 h : #{t.number} Site en panne"
    assert notified(world.agent) == notified(world.manager) == [title]
    services.add_message(ticket=t, kind=MessageKind.REPLY, body="On s'en occupe", actor=acting(world.agent))
    clock.advance(hours=1)
    assert hygiene.run_queue_hygiene()["tickets"] == 0
    clock.advance(hours=1, minutes=5)
    assert hygiene.run_queue_hygiene()["tickets"] == 1
    assert len(notified(world.agent)) == 2
    assert notified(world.outsider) == []


def test_the_shared_views_list_the_same_tickets(client, clock, world):
    stalled = TicketFactory(organization=world.org, assignee=world.agent, actor=world.manager, subject="Vieux")
    services.change_status(ticket=stalled, status=Status.OPEN, actor=acting(world.agent))
    urgent = TicketFactory(organization=world.org, priority="urgent", subject="Urgent muet")
    clock.advance(hours=25)
    client.force_login(world.agent)
    page = client.get(reverse("tickets:list")).content.decode()
    assert "?stale=in_progress_24h" in page and "?stale=urgent_2h" in page
    html = client.get(reverse("tickets:list"), {"stale": "in_progress_24h"}).content.decode()
    assert "Vieux" in html and "Urgent muet" not in html
    html = client.get(reverse("tickets:list"), {"stale": "urgent_2h"}).content.decode()
    assert "Urgent muet" in html and "Vieux" not in html
    assert urgent.number != stalled.number


def test_hygiene_reads_a_bounded_number_of_statements(clock, world, django_assert_max_num_queries):
    for i in range(5):
        TicketFactory(organization=world.org, priority="urgent", subject=f"U{i}")
    clock.advance(hours=3)
    with django_assert_max_num_queries(14):
        assert hygiene.run_queue_hygiene()["tickets"] == 5
