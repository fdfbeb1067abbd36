"""The dashboard's figures, each computed by hand on a small history and compared with the dashboard's.

Acme's history (Paris, opening hours Monday-Friday 9:00-18:00, the default SLA policies), "now" is Thursday
20 March 2025, 15:00:

| ticket | created        | priority | assignee | replies (after)         | resolved          | rating    |
| T0     | Mon 10, 10:00  | normal   | —        | none (the world's)      | —                 |           |
| T1     | Mon 10, 9:00   | high     | Agathe   | 10:00 (1 h)             | 12:00 (3 h)       | 5 Parfait |
| T2     | Mon 10, 10:00  | high     | Agathe   | 13:00 (3 h), 15:30      | 16:00 (6 h)       | 3         |
| T3     | Tue 11, 11:00  | urgent   | Marc     | 12:00 (1 h)             | 17:00 (6 h)       | 4 Bien    |
| T4     | Mon 17, 10:00  | normal   | Agathe   | 11:00 (1 h)             | — (open)          |  email, tag facturation
| T5     | Thu 20, 9:00   | urgent   | —        | none                    | —                 |
| T6     | Mon 3, 10:00   | normal   | Agathe   | none (before the period)| —                 |
| T7     | Wed 19, 10:00  | normal   | Agathe   | Thu 20 10:30 (9 h 30)   | Thu 20 11:00 (10 h)|
T2's customer wrote again at 14:00 and was answered at 15:30: the one later reply, 1 h 30.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import module_history
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from factories import CompanyFactory, TicketFactory, acting, bulk_tickets

from crm.models import Customer
from sla.dashboard import figures
from sla.dashboard.figures import DashboardFilters
from tickets import selectors, services
from tickets.models import MessageKind, Status, Ticket
from tickets.portal import satisfaction

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
H = 3600


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


NOW = paris(2025, 3, 20, 15)
PERIOD = DashboardFilters(start=date(2025, 3, 10), end=date(2025, 3, 23))


def build_history(clock, world):
    org, agent, manager = world.org, world.agent, world.manager
    t = {"T0": world.ticket}

    def at(*args):
        clock.set(paris(*args))

    def reply(ticket, who):
        services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Réponse", actor=acting(who))

    def resolve(ticket, who):
        services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(who))

    at(2025, 3, 3, 10)
    t["T6"] = TicketFactory(organization=org, assignee=agent, actor=manager)
    at(2025, 3, 10, 9)
    t["T1"] = TicketFactory(organization=org, priority="high", assignee=agent, actor=manager)
    at(2025, 3, 10, 10)
    t["T2"] = TicketFactory(organization=org, priority="high", assignee=agent, actor=manager)
    reply_at = {"T1": (2025, 3, 10, 10), "T2": (2025, 3, 10, 13)}
    at(*reply_at["T1"])
    reply(t["T1"], agent)
    at(2025, 3, 10, 12)
    resolve(t["T1"], agent)
    at(*reply_at["T2"])
    reply(t["T2"], agent)
    at(2025, 3, 10, 14)
    services.add_message(ticket=t["T2"], kind=MessageKind.CUSTOMER, body="Encore une question",
                         author_customer=t["T2"].customer)
    at(2025, 3, 10, 15, 30)
    reply(t["T2"], agent)
    at(2025, 3, 10, 16)
    resolve(t["T2"], agent)
    at(2025, 3, 11, 11)
    t["T3"] = TicketFactory(organization=org, priority="urgent", assignee=manager, actor=manager)
    at(2025, 3, 11, 12)
    reply(t["T3"], manager)
    at(2025, 3, 11, 17)
    resolve(t["T3"], manager)
    at(2025, 3, 12, 9)
    for key, score, comment in (("T1", 5, "Parfait"), ("T2", 3, ""), ("T3", 4, "Bien")):
        ticket = Ticket.objects.get(pk=t[key].pk)
        satisfaction.rate_ticket(ticket=ticket, customer=ticket.customer, score=score, comment=comment)
        clock.advance(minutes=1)
    at(2025, 3, 17, 10)
    t["T4"] = TicketFactory(organization=org, assignee=agent, actor=manager, channel="email", tags=["facturation"])
    at(2025, 3, 17, 11)
    reply(t["T4"], agent)
    at(2025, 3, 19, 10)
    t["T7"] = TicketFactory(organization=org, assignee=agent, actor=manager)
    at(2025, 3, 20, 9)
    t["T5"] = TicketFactory(organization=org, priority="urgent", actor=manager)
    at(2025, 3, 20, 10, 30)
    reply(t["T7"], agent)
    at(2025, 3, 20, 11)
    resolve(t["T7"], agent)
    at(2025, 3, 20, 15)
    return world, {k: Ticket.objects.get(pk=v.pk) for k, v in t.items()}


@pytest.fixture(scope="module")
def history_ticket_ids(module_world, django_db_blocker):
    """The history written once for the module, on its shared world (``conftest.module_world``, built at the
    clock's start): each test runs in a savepoint of it, rolled back at its end. ``None`` where the module
    builds a world per test (``conftest._world_time``): each test then writes its own history, as before."""
    with module_history(module_world, django_db_blocker, build_history) as built:
        yield None if built is None else {k: v.pk for k, v in built[1].items()}


@pytest.fixture
def history(clock, world, history_ticket_ids):
    """(world, {"T0": ticket, … "T7": ticket}) at NOW, the table above."""
    if history_ticket_ids is None:
        return build_history(clock, world)
    clock.set(NOW)
    return world, {k: Ticket.objects.get(pk=pk) for k, pk in history_ticket_ids.items()}


def compute(world, f=PERIOD):
    return figures.compute(world.org, f, now=NOW, time_zone="Europe/Paris")


def test_the_day_at_a_glance(history):
    world, t = history
    day = compute(world)["today"]
    assert day["date"] == "2025-03-20"
    # Still open: T0, T5, T6 new; T4 open (T4 got a reply).
    assert {r["status"]: r["n"] for r in day["by_status"]} == {
        "new": 3, "open": 1, "waiting_customer": 0, "waiting_internal": 0}
    assert day["backlog"] == 4
    # Created today: T5; 1-2 days ago (18-19 March): none open (T7 is resolved); 3-6 days (14-17): T4;
    # 7 days and more (up to 13 March): T0 and T6.
    assert [r["n"] for r in day["by_age"]] == [1, 0, 1, 2]
    assert day["new_today"] == 1  # T5
    assert day["urgent"] == 1  # T5 (T3, urgent too, is resolved)
    assert day["resolved_today"] == 1  # T7
    open_tickets = [x for x in t.values() if x.status in ("new", "open", "waiting_customer", "waiting_internal")]
    assert day["breached"] == sum(1 for x in open_tickets if x.sla_due_at and x.sla_due_at < NOW)
    assert day["breached"] >= 3  # T0, T6 (8 business hours long gone), T5 (30 minutes)
    assert day["at_risk"] == sum(1 for x in open_tickets if x.sla_due_at and x.sla_due_at >= NOW
                                 and x.sla_warn_at and x.sla_warn_at <= NOW)


def test_the_period(history):
    world, _t = history
    data = compute(world)
    # Opened: week of 10 March T0-T3, week of 17 March T4, T5, T7. Closed: T1-T3, then T7.
    assert [(w["week"], w["opened"], w["closed"]) for w in data["weeks"]] == [
        ("2025-03-10", 4, 3), ("2025-03-17", 3, 1)]
    assert (data["opened"], data["closed"]) == (7, 4)

    first = data["first_response"]
    # Business seconds: T1 1 h, T2 3 h, T3 1 h, T4 1 h, T7 8 h + 1 h 30 (Wednesday 10:00-18:00, Thursday
    # 9:00-10:30). Met: T1 (high, 2 h), T4 (normal, 8 h); breached: T2 (3 h > 2 h), T3 (1 h > 30 min), T7.
    seconds = sorted([1 * H, 3 * H, 1 * H, 1 * H, 9.5 * H])
    assert (first["met"], first["breached"], first["compliance"]) == (2, 3, 40.0)
    assert first["measured"] == 5
    assert first["average"] == round(sum(seconds) / 5)
    assert first["median"] == 1 * H
    assert first["p80"] == round(seconds[3] + 0.2 * (seconds[4] - seconds[3]))  # rank 0.8 x 4 = 3.2
    assert first["within"] == 3  # within 2 business hours

    resolution = data["resolution"]
    # T1 3 h, T2 6 h (high: 1 business day), T3 6 h (urgent: 4 h, breached), T7 10 h (normal: 3 days).
    seconds = sorted([3 * H, 6 * H, 6 * H, 10 * H])
    assert (resolution["met"], resolution["breached"], resolution["compliance"]) == (3, 1, 75.0)
    assert resolution["average"] == round(sum(seconds) / 4)
    assert resolution["median"] == 6 * H
    assert resolution["p80"] == round(seconds[2] + 0.4 * (seconds[3] - seconds[2]))  # rank 0.8 x 3 = 2.4
    assert (resolution["within"], resolution["within_share"]) == (4, 100.0)  # all within 24 business hours

    assert data["later_reply"]["measured"] == 1
    assert data["later_reply"]["average"] == 1.5 * H  # T2: 14:00 -> 15:30

    # Resolved after a reply: T1, T2, T3, T7; the customer never wrote again after the first reply: T1, T3, T7.
    assert data["first_contact"] == {"replied": 4, "first_contact": 3, "rate": 75.0}

    csat = data["satisfaction"]
    assert csat["count"] == 3 and csat["average"] == 4.0
    assert [d["n"] for d in csat["distribution"]] == [0, 0, 1, 1, 1]
    assert (csat["happy"], csat["happy_share"]) == (2, 66.7)
    assert [c["comment"] for c in csat["comments"]] == ["Bien", "Parfait"]  # latest first, empty ones left out

    objectives = {o["key"]: o for o in data["objectives"]}
    assert objectives["first_response"]["met"] is False  # average 3 h 06 > 2 h
    assert objectives["later_reply"]["met"] is True  # 1 h 30 < 4 h
    assert objectives["resolution"]["met"] is True  # 100 % >= 80 %
    assert objectives["first_contact"]["met"] is False  # 75 % <= 90 %


def test_per_agent(history):
    world, _t = history
    agents = {a["name"]: a for a in compute(world)["agents"]}
    agathe, marc = agents[world.agent.get_full_name()], agents[world.manager.get_full_name()]
    # Agathe: T1, T2, T4, T7 created in the period (T6 is before it); resolved T1, T2, T7; T4 open.
    assert (agathe["created"], agathe["resolved"], agathe["open"]) == (4, 3, 1)
    assert agathe["first_response"]["average"] == round((1 + 3 + 1 + 9.5) * H / 4)
    assert agathe["first_contact_rate"] == 66.7  # T1, T7 of T1, T2, T7
    assert agathe["csat"] == {"n": 2, "average": 4.0}  # 5 and 3
    assert (marc["created"], marc["resolved"], marc["open"]) == (1, 1, 0)
    assert marc["csat"] == {"n": 1, "average": 4.0}
    unassigned = agents["(non assigné)"]
    assert (unassigned["created"], unassigned["open"]) == (2, 2)  # T0, T5
    assert [a["name"] for a in compute(world)["agents"]][-1] == "(non assigné)"


def test_filters(history):
    world, t = history
    by_channel = compute(world, DashboardFilters(start=PERIOD.start, end=PERIOD.end, channel="email"))
    assert by_channel["opened"] == 1 and by_channel["today"]["backlog"] == 1  # T4
    by_tag = compute(world, DashboardFilters(start=PERIOD.start, end=PERIOD.end, tag="Facturation"))
    assert by_tag["opened"] == 1 and by_tag["first_response"]["measured"] == 1
    by_priority = compute(world, DashboardFilters(start=PERIOD.start, end=PERIOD.end, priority="high"))
    assert (by_priority["opened"], by_priority["closed"]) == (2, 2)
    by_agent = compute(world, DashboardFilters(start=PERIOD.start, end=PERIOD.end, agent=world.manager.pk))
    assert by_agent["opened"] == 1 and by_agent["satisfaction"]["count"] == 1
    company = CompanyFactory(organization=world.org, name="Dupont SA")
    Customer.objects.filter(pk=t["T4"].customer_id).update(company=company)
    by_company = compute(world, DashboardFilters(start=PERIOD.start, end=PERIOD.end, company=company.pk))
    assert by_company["opened"] == 1 and by_company["today"]["backlog"] == 1  # T4
    f = selectors.TicketFilters.from_params(QueryDict(by_company["opened_href"]))
    assert selectors.count_matches(world.org, f, user=world.manager, cap=1000) == 1
    one_week = compute(world, DashboardFilters(start=date(2025, 3, 17), end=date(2025, 3, 23)))
    assert [(w["opened"], w["closed"]) for w in one_week["weeks"]] == [(3, 1)]
    # Another organization sees only its own ticket.
    other = figures.compute(world.other_org, PERIOD, now=NOW, time_zone="Europe/Paris")
    assert other["opened"] == 1 and other["closed"] == 0 and other["satisfaction"]["count"] == 0


def test_drill_down_links_show_what_they_count(client, history):
    """Each count's link opens the ticket list filtered to the same tickets."""
    world, _t = history
    client.force_login(world.manager)
    data = compute(world)

    def listed(query: str) -> int:
        f = selectors.TicketFilters.from_params(QueryDict(query))
        assert not f.errors, query
        return selectors.count_matches(world.org, f, user=world.manager, cap=1000)

    day = data["today"]
    assert listed(day["backlog_href"]) == day["backlog"]
    for row in day["by_status"] + day["by_age"]:
        assert listed(row["href"]) == row["n"], row
    for key in ("new_today", "urgent", "resolved_today", "breached", "at_risk"):
        assert listed(day[f"{key}_href"]) == day[key], key
    for w in data["weeks"]:
        assert listed(w["opened_href"]) == w["opened"] and listed(w["closed_href"]) == w["closed"]
    assert listed(data["opened_href"]) == data["opened"]
    assert listed(data["closed_href"]) == data["closed"]
    for a in data["agents"]:
        assert listed(a["href"]) == a["created"], a["name"]


def test_query_count_is_fixed_whatever_the_data_size(history):
    world, _t = history

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            compute(world)
        return len(ctx.captured_queries)

    small = count()
    bulk_tickets(world.org, 200)
    assert count() == small == 6  # today, comments, names; the period (rollups.read): three


def test_spam_counts_nowhere(history):
    world, t = history
    before = compute(world)
    services.mark_spam(ticket=t["T5"], actor=acting(world.agent))  # urgent, new today
    services.mark_spam(ticket=t["T1"], actor=acting(world.agent))  # resolved, rated, first contact
    after = compute(world)
    assert after["opened"] == before["opened"] - 2
    assert after["today"]["new_today"] == before["today"]["new_today"] - 1
    assert after["today"]["urgent"] == before["today"]["urgent"] - 1
    assert after["first_response"]["measured"] == before["first_response"]["measured"] - 1
    assert after["first_contact"]["replied"] == before["first_contact"]["replied"] - 1
    assert after["satisfaction"]["count"] == before["satisfaction"]["count"] - 1
    for key in ("new_today", "urgent"):
        query = QueryDict(after["today"][f"{key}_href"])
        assert query["spam"] == "0"
        f = selectors.TicketFilters.from_params(query)
        assert selectors.count_matches(world.org, f, user=world.manager, cap=1000) == after["today"][key]
