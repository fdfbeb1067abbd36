"""The API's time entries (read): filters (ticket, agent, dates), cursor pages, ETag, the organization's entries
only, euro amounts only for roles with ``costs.view`` (as the console: Agents see minutes, not euros), the
ticket's time total on its detail, and the same query count for 10 and 100 entries."""

from __future__ import annotations

from datetime import date

import pytest
from api_helpers import bearer, new_key, on_plan
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import SYSTEM, acting, bulk_tickets, member

from crm import rates
from lumiodesk.models import Role
from tickets.costs import services
from tickets.costs.models import TimeEntry

pytestmark = pytest.mark.django_db
URL = "/api/v1/time-entries/"


@pytest.fixture
def api(world):
    on_plan(world.org)
    on_plan(world.other_org)
    rates.set_rate(actor=SYSTEM, organization=world.org, user=world.agent, amount="60", effective_from=date(2025, 1, 1))
    world.e1 = services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes=30, day=date(2025, 3, 3),
                                 note="Appel")
    world.e2 = services.log_time(actor=acting(world.manager), ticket=world.ticket, minutes=15, day=date(2025, 3, 10))
    world.tokens = {role: new_key(world.org, world.admin, role) for role in Role.values}
    return world


def get(client, w, url, role=Role.MANAGER, **headers):
    return client.get(url, **bearer(w.tokens[role], **headers))


def test_managers_admins_and_viewers_read_the_costs_agents_only_the_minutes(client, api):
    w = api
    for role in (Role.ADMIN, Role.MANAGER, Role.VIEWER):
        rows = get(client, w, URL, role).json()["results"]
        assert [(r["id"], r["minutes"]) for r in rows] == [(w.e2.pk, 15), (w.e1.pk, 30)], role
        first = rows[1]
        assert (first["rate"], first["cost"], first["note"], first["ticket_number"], first["date"]) == (
            "60.00", "30.00", "Appel", w.ticket.number, "2025-03-03")
        assert first["user"]["id"] == w.agent.pk
    agent_rows = get(client, w, URL, Role.AGENT).json()["results"]
    assert [r["minutes"] for r in agent_rows] == [15, 30]
    assert all(r["rate"] is None and r["cost"] is None for r in agent_rows)
    assert b"30.00" not in get(client, w, URL, Role.AGENT).content


def test_only_the_keys_organization_is_listed(client, api):
    w = api
    outsider = member(w.other_org, Role.AGENT)
    theirs = services.log_time(actor=SYSTEM, ticket=w.other_ticket, minutes=40, day=date(2025, 3, 4), user=outsider)
    ids = [r["id"] for r in get(client, w, URL).json()["results"]]
    assert theirs.pk not in ids and len(ids) == 2
    # Filtering on their ticket's number or their agent finds nothing of theirs.
    assert get(client, w, f"{URL}?user={outsider.pk}").json()["results"] == []
    other_number = w.other_ticket.number
    assert theirs.pk not in [r["id"] for r in get(client, w, f"{URL}?ticket={other_number}").json()["results"]]


def test_filters_by_ticket_agent_and_dates(client, api):
    w = api
    other = bulk_tickets(w.org, 1)[0]
    e3 = services.log_time(actor=acting(w.agent), ticket=other, minutes=5, day=date(2025, 4, 1))

    def ids(query):
        response = get(client, w, f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids(f"ticket={w.ticket.number}") == [w.e2.pk, w.e1.pk]
    assert ids(f"ticket={other.number}") == [e3.pk]
    assert ids(f"user={w.agent.pk}") == [e3.pk, w.e1.pk]
    assert ids("date_from=2025-03-05") == [e3.pk, w.e2.pk]
    assert ids("date_to=2025-03-10") == [w.e2.pk, w.e1.pk]
    assert ids(f"date_from=2025-03-04&date_to=2025-03-31&user={w.manager.pk}") == [w.e2.pk]
    for bad in ("ticket=abc", "user=-1", "date_from=2025-13-01", "date_to=demain"):
        response = get(client, w, f"{URL}?{bad}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_filter", bad


def test_pages_by_cursor_with_an_etag(client, api):
    w = api
    services.log_time(actor=acting(w.agent), ticket=w.ticket, minutes=7, day=date(2025, 3, 11))
    first = get(client, w, f"{URL}?limit=2")
    body = first.json()
    assert len(body["results"]) == 2 and body["next_cursor"]
    second = get(client, w, f"{URL}?limit=2&cursor={body['next_cursor']}").json()
    assert [r["id"] for r in second["results"]] == [w.e1.pk] and second["next_cursor"] is None
    again = get(client, w, f"{URL}?limit=2", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    services.update_entry(actor=acting(w.manager), entry=TimeEntry.objects.order_by("-id").first(), minutes=8)
    assert get(client, w, f"{URL}?limit=2", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_the_ticket_detail_has_its_time_total_without_euros_for_agents(client, api):
    w = api
    services.start_timer(actor=acting(w.admin), ticket=w.ticket)  # running: not counted yet
    url = f"/api/v1/tickets/{w.ticket.number}/"
    assert get(client, w, url).json()["time"] == {"minutes": 45, "entries": 2, "cost": "30.00"}
    assert get(client, w, url, Role.AGENT).json()["time"] == {"minutes": 45, "entries": 2, "cost": None}


def _list_queries(client, w) -> tuple[int, list[str]]:
    get(client, w, URL)  # the key's last use is noted at most once a minute: not measured here
    with CaptureQueriesContext(connection) as ctx:
        response = get(client, w, f"{URL}?limit=100")
    assert response.status_code == 200
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def _bulk_entries(w, n: int) -> None:
    agents = [member(w.org, Role.AGENT) for _ in range(3)]
    tickets = bulk_tickets(w.org, 5)
    TimeEntry.objects.bulk_create([
        TimeEntry(organization=w.org, ticket=tickets[i % 5], user=agents[i % 3], date=date(2025, 5, 1 + i % 28),
                  minutes=10 + i, rate=50, cost=10) for i in range(n)
    ])


def test_the_list_costs_the_same_queries_for_10_and_100_entries(client, api):
    w = api
    _bulk_entries(w, 8)
    small = _list_queries(client, w)
    _bulk_entries(w, 90)
    large = _list_queries(client, w)
    assert TimeEntry.objects.filter(organization=w.org).count() == 100
    assert small[0] == large[0] == 2, "\n".join(large[1])  # the key, then one query for the page
