"""The list counters: active statuses counted exactly, the closed count cached in Redis and forgotten
as soon as a ticket is closed, reopened or deleted."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.urls import reverse
from factories import TicketFactory, acting

from tickets import selectors, services
from tickets.models import Status

pytestmark = pytest.mark.django_db


def test_closing_and_reopening_a_ticket_moves_the_counters_at_once(world, django_capture_on_commit_callbacks):
    before = selectors.counters(world.org)
    assert cache.get(selectors.closed_count_key(world.org.pk)) == before["closed"]

    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.CLOSED, actor=acting(world.agent))
    closed = selectors.counters(world.org)
    assert closed["closed"] == before["closed"] + 1
    assert closed["total"] == before["total"]

    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.OPEN, actor=acting(world.agent))
    assert selectors.counters(world.org)["closed"] == before["closed"]


def test_deleting_a_closed_ticket_forgets_the_cached_count(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.CLOSED, actor=acting(world.agent))
    assert selectors.counters(world.org)["closed"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        world.ticket.delete()
    assert selectors.counters(world.org)["closed"] == 0


def test_the_cached_count_is_per_organization(world):
    assert selectors.counters(world.org)["total"] == 1
    assert selectors.counters(world.other_org)["total"] == 1
    assert selectors.closed_count_key(world.org.pk) != selectors.closed_count_key(world.other_org.pk)


def test_resolved_counts_today_in_the_organizations_time_zone(world, clock, client):
    """002: "Résolus : votre performance du jour". Paris midnight, not UTC's; all resolved stay in the list."""
    paris = ZoneInfo("Europe/Paris")
    clock.set(datetime(2025, 3, 10, 0, 30, tzinfo=paris))  # 23:30 UTC the day before
    services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    assert selectors.counters(world.org)["resolved_today"] == 1
    clock.set(datetime(2025, 3, 11, 0, 10, tzinfo=paris))  # the next day in Paris, still the 10th in UTC
    counts = selectors.counters(world.org)
    assert counts["resolved_today"] == 0 and counts["resolved"] == 1
    client.force_login(world.agent)
    html = client.get(reverse("tickets:list")).content.decode()
    assert "?resolved_from=2025-03-11&amp;spam=0" in html and "Résolus aujourd" in html
    services.mark_spam(ticket=TicketFactory(organization=world.org), actor=acting(world.agent))
    assert selectors.counters(world.org)["resolved_today"] == 0  # closing as spam is no performance
