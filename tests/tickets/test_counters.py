"""The list counters: active statuses counted exactly, the closed count cached in Redis and forgotten
as soon as a ticket is closed, reopened or deleted."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


def _counting_queries(org) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        counts = selectors.counters(org)
    return counts, [q["sql"] for q in ctx.captured_queries]


def test_resolved_today_comes_from_the_cache_and_moves_on_resolve_and_reopen(
    world, clock, django_capture_on_commit_callbacks
):
    selectors.counters(world.org)  # warms both figures
    counts, queries = _counting_queries(world.org)
    assert counts["resolved_today"] == 0
    assert len(queries) == 1, queries  # the statuses in play only: closed and resolved today are cached

    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    assert cache.get(selectors.resolved_today_key(world.org.pk)) is None  # forgotten at the change
    assert cache.get(selectors.closed_count_key(world.org.pk)) is not None  # resolving does not close
    assert selectors.counters(world.org)["resolved_today"] == 1
    assert len(_counting_queries(world.org)[1]) == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.CLOSED, actor=acting(world.agent))
    counts = selectors.counters(world.org)
    assert (counts["resolved_today"], counts["closed"]) == (1, 1)  # closing keeps the day's resolution

    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.OPEN, actor=acting(world.agent))
    counts = selectors.counters(world.org)
    assert (counts["resolved_today"], counts["closed"]) == (0, 0)

    other = TicketFactory(organization=world.org)
    selectors.counters(world.org)
    with django_capture_on_commit_callbacks(execute=True):  # closed straight away: resolved today too
        services.change_status(ticket=other, status=Status.CLOSED, actor=acting(world.agent))
    assert selectors.counters(world.org)["resolved_today"] == 1


def test_resolved_today_starts_again_at_the_organizations_midnight(world, clock):
    paris = ZoneInfo("Europe/Paris")
    clock.set(datetime(2025, 3, 10, 23, 50, tzinfo=paris))
    services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    assert selectors.counters(world.org)["resolved_today"] == 1  # cached for the 10th
    clock.set(datetime(2025, 3, 11, 0, 5, tzinfo=paris))  # nothing changed, but a new day in Paris
    counts, queries = _counting_queries(world.org)
    assert counts["resolved_today"] == 0 and counts["resolved"] == 1
    assert len(queries) == 2, queries  # counted again once for the new day, then cached
    assert len(_counting_queries(world.org)[1]) == 1
    world.org.time_zone = "America/New_York"  # 18:05 on the 10th there: the resolution is today's again
    world.org.save(update_fields=["time_zone"])
    assert selectors.counters(world.org)["resolved_today"] == 1


def test_marking_a_closed_ticket_spam_or_deleting_it_forgets_resolved_today(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.CLOSED, actor=acting(world.agent))
    assert selectors.counters(world.org)["resolved_today"] == 1
    with django_capture_on_commit_callbacks(execute=True):  # already closed: no status change, still no performance
        services.mark_spam(ticket=world.ticket, actor=acting(world.agent))
    assert selectors.counters(world.org)["resolved_today"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.unmark_spam(ticket=world.ticket, actor=acting(world.agent))  # reopened
    other = TicketFactory(organization=world.org)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=other, status=Status.RESOLVED, actor=acting(world.agent))
    assert selectors.counters(world.org)["resolved_today"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        other.delete()
    assert selectors.counters(world.org)["resolved_today"] == 0


def test_the_list_page_reads_both_cached_counts_without_a_query(client, world):
    client.force_login(world.agent)
    client.get(reverse("tickets:list"))  # warms the session and the counts
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(reverse("tickets:list")).content.decode()
    assert "Résolus aujourd" in html
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert not [sql for sql in counts if "resolved_at" in sql or "'closed'" in sql], counts
