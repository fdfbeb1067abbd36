"""Time on tickets: manual entries, the timer (one per agent, sign-out, idle limit), costs at the rate in force,
who edits what (audited), budget alerts once per threshold."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from factories import SYSTEM, CompanyFactory, TicketFactory, acting
from helpers import htmx

from crm import budgets, rates
from crm.models import BudgetAlert
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AgentNotification, AuditLog, Role
from lumiodesk.permissions import ApiKeyActor
from tickets.costs import alerts, services
from tickets.costs.models import TimeEntry

pytestmark = pytest.mark.django_db


def _rate(world, user, amount, day):
    rates.set_rate(actor=SYSTEM, organization=world.org, user=user, amount=amount, effective_from=day)


@pytest.mark.parametrize(("typed", "minutes"), [("45", 45), ("1h30", 90), ("1:15", 75), ("1.5h", 90), ("2h", 120),
                                                ("20m", 20)])
def test_durations_as_agents_type_them(typed, minutes):
    assert services.parse_duration(typed) == minutes


@pytest.mark.parametrize("typed", ["", "abc", "0", "25h", "-3"])
def test_bad_durations_are_refused(typed):
    with pytest.raises(InvalidInput):
        services.parse_duration(typed)


def test_a_rate_change_never_changes_the_cost_of_time_already_logged(world):
    _rate(world, world.agent, "40", date(2025, 1, 1))
    entry = services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes="1h30", day=date(2025, 3, 10))
    assert (entry.rate, entry.cost) == (Decimal("40.00"), Decimal("60.00"))
    # A new rate, even back-dated to before the entry, leaves the logged cost as it was.
    _rate(world, world.agent, "80", date(2025, 2, 1))
    _rate(world, world.agent, "100", date(2025, 3, 10))
    entry.refresh_from_db()
    assert (entry.rate, entry.cost) == (Decimal("40.00"), Decimal("60.00"))
    # New time is costed at the rate in force on its own date.
    later = services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes=30, day=date(2025, 3, 11))
    assert later.cost == Decimal("50.00")
    earlier = services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes=30, day=date(2025, 1, 15))
    assert earlier.cost == Decimal("20.00")


def test_an_agent_edits_their_own_entries_a_manager_anyones_and_edits_are_audited(world):
    _rate(world, world.agent, "60", date(2025, 1, 1))
    mine = services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes=10, day=date(2025, 3, 3))
    theirs = services.log_time(actor=acting(world.manager), ticket=world.ticket, minutes=10, day=date(2025, 3, 3))
    services.update_entry(actor=acting(world.agent), entry=mine, minutes="1h", note="Appel")
    mine.refresh_from_db()
    assert (mine.minutes, mine.cost, mine.note) == (60, Decimal("60.00"), "Appel")
    with pytest.raises(NotPermitted):
        services.update_entry(actor=acting(world.agent), entry=theirs, minutes=5)
    with pytest.raises(NotPermitted):
        services.delete_entry(actor=acting(world.agent), entry=theirs)
    with pytest.raises(NotPermitted):
        services.log_time(actor=acting(world.viewer), ticket=world.ticket, minutes=5)
    services.update_entry(actor=acting(world.manager), entry=mine, minutes=30)
    services.delete_entry(actor=acting(world.manager), entry=theirs)
    rows = list(AuditLog.objects.filter(target_type="time_entry").order_by("id"))
    assert [r.action for r in rows] == ["time.updated", "time.updated", "time.deleted"]
    assert rows[0].data["before"]["minutes"] == 10 and rows[0].data["after"]["minutes"] == 60
    assert rows[1].actor == world.manager


def test_the_timer_runs_on_the_server_one_per_agent(world, clock):
    _rate(world, world.agent, "60", date(2025, 1, 1))
    other = TicketFactory(organization=world.org)
    agent = acting(world.agent)
    services.start_timer(actor=agent, ticket=world.ticket)
    clock.advance(minutes=25)
    services.start_timer(actor=agent, ticket=world.ticket)  # a second click: the same timer
    assert TimeEntry.objects.filter(user=world.agent, running=True).count() == 1
    services.start_timer(actor=agent, ticket=other)  # another ticket: the first stops
    first = TimeEntry.objects.get(ticket=world.ticket)
    assert (first.running, first.minutes, first.cost) == (False, 25, Decimal("25.00"))
    assert services.running_timer(world.agent).ticket == other
    clock.advance(minutes=5)
    stopped = services.stop_timer(actor=agent, ticket=other)
    assert (stopped.minutes, stopped.running) == (5, False)
    assert services.stop_timer(actor=agent) is None


def test_signing_out_stops_the_timer(client, world, clock):
    services.start_timer(actor=acting(world.agent), ticket=world.ticket)
    clock.advance(minutes=12)
    client.force_login(world.agent)
    client.post(reverse("logout"))
    entry = TimeEntry.objects.get(user=world.agent)
    assert (entry.running, entry.minutes) == (False, 12)


def test_a_forgotten_timer_stops_at_the_idle_limit(world, clock, settings):
    settings.TIMER_IDLE_LIMIT_MINUTES = 120
    services.start_timer(actor=acting(world.agent), ticket=world.ticket)
    clock.advance(minutes=100)
    assert services.stop_idle_timers() == 0
    clock.advance(hours=10)
    assert services.stop_idle_timers() == 1
    entry = TimeEntry.objects.get(user=world.agent)
    assert (entry.running, entry.minutes) == (False, 120)  # counted up to the limit, not the night
    assert services.stop_idle_timers() == 0  # twice: nothing more


def test_budget_alerts_reach_managers_once_per_threshold(world, clock, django_capture_on_commit_callbacks):
    company = CompanyFactory(organization=world.org)
    world.customer.company = company
    world.customer.save(update_fields=["company"])
    _rate(world, world.agent, "60", date(2025, 1, 1))
    budgets.save_budget(actor=SYSTEM, organization=world.org, period="month", day=date(2025, 3, 1), amount="100",
                        company=company)
    agent = acting(world.agent)
    services.log_time(actor=agent, ticket=world.ticket, minutes=30, day=date(2025, 3, 2))  # 30 €: pace → 93 €, ok
    assert not BudgetAlert.objects.exists()
    services.log_time(actor=agent, ticket=world.ticket, minutes=55, day=date(2025, 3, 3))  # 85 €
    assert set(BudgetAlert.objects.values_list("kind", flat=True)) == {"80", "pace"}
    services.log_time(actor=agent, ticket=world.ticket, minutes=5, day=date(2025, 3, 4))  # 90 €: nothing new
    assert BudgetAlert.objects.count() == 2
    services.log_time(actor=agent, ticket=world.ticket, minutes=15, day=date(2025, 3, 5))  # 105 €
    assert set(BudgetAlert.objects.values_list("kind", flat=True)) == {"80", "100", "pace"}
    services.log_time(actor=agent, ticket=world.ticket, minutes=60, day=date(2025, 3, 6))
    assert BudgetAlert.objects.count() == 3
    told = AgentNotification.objects.filter(kind="budget_alert")
    assert {n.recipient_id for n in told} == {world.admin.pk, world.manager.pk}  # Managers and Admins, not agents
    assert told.count() == 6
    assert "100 %" in told.filter(dedup_key__endswith=":100").first().title


def test_an_alert_already_raised_is_not_raised_again(world):
    _rate(world, world.agent, "60", date(2025, 1, 1))
    budget = budgets.save_budget(actor=SYSTEM, organization=world.org, period="year", day=date(2025, 1, 1),
                                 amount="10", customer=world.customer)
    services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes=60, day=date(2025, 3, 2))
    assert BudgetAlert.objects.filter(budget=budget).count() == 2
    assert alerts.check_ticket(world.ticket, date(2025, 3, 2)) == 0  # a second check (another worker) adds nothing


def test_the_ticket_page_block_logs_time_and_runs_the_timer(client, world):
    client.force_login(world.agent)
    url = reverse("costs:log", args=[world.ticket.number])
    response = client.post(url, {"duration": "1h15", "date": "2025-03-10", "note": "Analyse"}, **htmx())
    assert response.status_code == 200 and "75 min" in response.content.decode()
    response = client.post(url, {"duration": "nope"}, **htmx())
    assert response.status_code == 400 and "Durée invalide" in response.content.decode()
    response = client.post(reverse("costs:timer", args=[world.ticket.number]), {"action": "start"}, **htmx())
    assert "Arrêter" in response.content.decode()
    # a reload still shows it running
    assert "Arrêter" in client.get(reverse("costs:ticket_time", args=[world.ticket.number])).content.decode()
    client.post(reverse("costs:timer", args=[world.ticket.number]), {"action": "stop"})
    assert not TimeEntry.objects.filter(running=True).exists()
    client.force_login(world.viewer)
    assert client.post(url, {"duration": "10"}).status_code == 403
    assert client.get(reverse("costs:ticket_time", args=[world.other_ticket.number])).status_code == 404


def test_an_agent_edits_an_entry_from_its_page(client, world):
    entry = services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes=10, day=date(2025, 3, 3))
    client.force_login(world.agent)
    url = reverse("costs:entry_edit", args=[entry.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"duration": "20", "date": "2025-03-04", "note": "x"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.minutes, entry.date) == (20, date(2025, 3, 4))
    client.force_login(world.outsider)
    assert client.get(url).status_code == 404


def test_the_monthly_rollup_follows_every_write(world, clock):
    from tickets.costs import rollup
    from tickets.costs.models import TicketCostMonth, TimeCostMonth

    _rate(world, world.agent, "60", date(2025, 1, 1))
    agent, manager = acting(world.agent), acting(world.manager)
    a = services.log_time(actor=agent, ticket=world.ticket, minutes=30, day=date(2025, 2, 27))
    b = services.log_time(actor=agent, ticket=world.ticket, minutes=15, day=date(2025, 3, 1))
    services.update_entry(actor=agent, entry=a, day=date(2025, 3, 2), minutes=45)  # moves to March
    services.delete_entry(actor=manager, entry=b)
    services.start_timer(actor=agent, ticket=world.ticket)
    clock.advance(minutes=10)
    services.stop_timer(actor=agent)

    def rows():
        fields = ("month", "user_id", "minutes", "cost_cents", "entries")
        return sorted(TimeCostMonth.objects.filter(minutes__gt=0).values_list(*fields))

    def ticket_rows():
        fields = ("month", "minutes", "cost_cents", "entries")
        return sorted(TicketCostMonth.objects.filter(minutes__gt=0).values_list(*fields))

    kept = rows()
    assert kept == [(date(2025, 3, 1), world.agent.pk, 55, 5500, 2)]
    assert ticket_rows() == [(date(2025, 3, 1), 55, 5500, 2)]
    rollup.rebuild(world.org.pk)
    assert rows() == kept and ticket_rows() == [(date(2025, 3, 1), 55, 5500, 2)]


def test_an_api_key_edits_only_its_creator_s_entries_unless_its_role_manages_time(world):
    """Every actor but the system is held to "your own entries": an API key acts as its creator, with its role."""
    theirs = services.log_time(actor=acting(world.manager), ticket=world.ticket, minutes=10, day=date(2025, 3, 3))
    agent_key = ApiKeyActor(organization=world.org, role=Role.AGENT, key_id=1, user=world.agent)
    with pytest.raises(NotPermitted):
        services.update_entry(actor=agent_key, entry=theirs, minutes=5)
    with pytest.raises(NotPermitted):
        services.delete_entry(actor=agent_key, entry=theirs)
    with pytest.raises(NotPermitted):
        services.log_time(actor=agent_key, ticket=world.ticket, minutes=5, user=world.manager)
    own = services.log_time(actor=agent_key, ticket=world.ticket, minutes=5)
    assert own.user == world.agent
    services.update_entry(actor=agent_key, entry=own, minutes=7)
    manager_key = ApiKeyActor(organization=world.org, role=Role.MANAGER, key_id=2, user=world.admin)
    services.update_entry(actor=manager_key, entry=theirs, minutes=20)
    services.update_entry(actor=SYSTEM, entry=theirs, minutes=25)  # the system acts for anyone
    theirs.refresh_from_db()
    assert theirs.minutes == 25
