"""SLA reports: compliance per priority, agent and period; averages and medians in business time;
the time zone in force at generation is kept (section 3)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import module_history
from django.urls import reverse
from factories import TicketFactory, acting
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx

from lumiodesk.models import Organization
from sla import reports
from sla.models import SlaReport
from tickets import services
from tickets.models import MessageKind, Status

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
URL = reverse("sla:reports")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


NOW = paris(2025, 3, 20, 12)


def build_history(clock, world):
    """Four tickets of the week of 10 March 2025, handled by Agathe and Marc, and one the week after."""
    org, agent, manager = world.org, world.agent, world.manager

    def ticket(at, priority, who, reply_after_h, resolve_after_h):
        clock.set(at)
        t = TicketFactory(organization=org, priority=priority, assignee=who, actor=manager)
        clock.set(at.replace(hour=at.hour + reply_after_h) if reply_after_h < 8 else paris(2025, 3, 11, 9, 30))
        services.add_message(ticket=t, kind=MessageKind.REPLY, body="Réponse", actor=acting(who))
        if resolve_after_h is not None:
            clock.set(at.replace(hour=at.hour + resolve_after_h))
            services.change_status(ticket=t, status=Status.RESOLVED, actor=acting(who))
        return t

    ticket(paris(2025, 3, 10, 9), "high", agent, 1, 3)  # first response 1 h (met), resolved in 3 h (met)
    ticket(paris(2025, 3, 10, 10), "high", agent, 3, 6)  # 3 h: breached; resolved 6 h: met
    ticket(paris(2025, 3, 10, 11), "urgent", manager, 1, 6)  # 1 h > 30 min: breached; 6 h > 4 h: breached
    ticket(paris(2025, 3, 10, 12), "normal", manager, 9, None)  # replied next morning (6 h 30: met); open
    ticket(paris(2025, 3, 17, 10), "low", agent, 2, None)
    clock.set(NOW)
    return world


@pytest.fixture(scope="module")
def shared_history(module_world, django_db_blocker):
    """The history written once for the module, on its shared world (``conftest.module_world``, built at the
    clock's start): each test runs in a savepoint of it, rolled back at its end. ``False`` where the module
    builds a world per test (``conftest._world_time``): each test then writes its own history, as before."""
    with module_history(module_world, django_db_blocker, build_history) as built:
        yield built is not None


@pytest.fixture
def history(clock, world, shared_history):
    """The world, its history written, at NOW."""
    if not shared_history:
        return build_history(clock, world)
    clock.set(NOW)
    return world


def test_the_figures(history):
    world = history
    report = reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                                     granularity="week", actor=acting(world.manager))
    data = report.data
    assert data["tickets"] == 4 + 1  # the world's own ticket, created on Monday 10:00
    first = data["totals"]["first_response"]
    # Met: 1 h, 6 h 30; breached: 3 h (high), 1 h (urgent), and the world's ticket never answered.
    assert (first["met"], first["breached"], first["compliance"]) == (2, 3, 40.0)
    assert first["median"] == 2 * 3600  # 1 h, 1 h, 3 h, 6 h 30 -> (1 h + 3 h) / 2
    assert first["average"] == round((1 + 3 + 1 + 6.5) * 3600 / 4)
    resolution = data["totals"]["resolution"]
    # Met: 3 h and 6 h (high); breached: the urgent one (6 h > 4 h) and the two still open past their due time.
    assert (resolution["met"], resolution["breached"]) == (2, 3)
    assert (resolution["average"], resolution["median"]) == (5 * 3600, 6 * 3600)
    by_priority = {row["priority"]: row for row in data["by_priority"]}
    assert [row["priority"] for row in data["by_priority"]] == ["urgent", "high", "normal", "low"]
    assert by_priority["high"]["first_response"]["compliance"] == 50.0
    assert by_priority["urgent"]["resolution"]["breached"] == 1
    assert by_priority["low"]["first_response"]["met"] == 0  # the low ticket is the week after
    agents = {row["agent"]: row for row in data["by_agent"]}
    agathe, marc = world.agent.get_full_name(), world.manager.get_full_name()
    assert agents[agathe]["first_response"]["met"] == 1 and agents[agathe]["first_response"]["breached"] == 1
    assert agents[marc]["resolution"]["breached"] == 2  # the urgent one, and the normal one still open
    assert agents["(non assigné)"]["first_response"]["breached"] == 1  # the world's ticket, never answered
    assert [row["period"] for row in data["by_period"]] == ["2025-03-10"]
    assert report.time_zone == "Europe/Paris"


def test_per_day_and_the_time_zone_is_kept(history):
    world = history
    report = reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 21),
                                     granularity="day", actor=acting(world.admin))
    assert [row["period"] for row in report.data["by_period"]] == ["2025-03-10", "2025-03-17"]
    Organization.objects.filter(pk=world.org.pk).update(time_zone="America/New_York")
    report.refresh_from_db()
    assert report.time_zone == "Europe/Paris"


def test_reports_page_for_managers(client, history):
    world = history
    client.force_login(world.manager)
    html = assert_full_page(client.get(URL))
    assert "Générer un rapport" in html
    response = client.post(URL, {"start": "2025-03-10", "end": "2025-03-16", "granularity": "week"})
    report = SlaReport.objects.get()
    assert response.status_code == 302 and response.url == reverse("sla:report", args=[report.pk])
    html = assert_full_page(client.get(response.url))
    assert "SLA du 10/03/2025 au 16/03/2025" in html
    assert "(Europe/Paris)" in html
    assert "40 %" in html
    assert "semaine du 10/03/2025" in html
    assert "2 h" in html  # the median first response


def test_a_report_shows_its_own_time_zone(client, history):
    world = history
    report = reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                                     granularity="week", actor=acting(world.manager), now=paris(2025, 3, 20, 12))
    Organization.objects.filter(pk=world.org.pk).update(time_zone="America/New_York")
    client.force_login(world.manager)
    html = client.get(reverse("sla:report", args=[report.pk])).content.decode()
    assert "Généré le 20/03/2025 12:00 (Europe/Paris)" in html


def test_viewers_read_reports_but_do_not_generate_them(client, history):
    world = history
    report = reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                                     granularity="week", actor=acting(world.manager))
    client.force_login(world.viewer)
    html = assert_full_page(client.get(URL))
    assert "Générer un rapport" not in html
    assert client.get(reverse("sla:report", args=[report.pk])).status_code == 200
    assert client.post(URL, {"start": "2025-03-10", "end": "2025-03-16", "granularity": "week"}).status_code == 403
    assert SlaReport.objects.count() == 1


def test_agents_and_outsiders(client, history):
    world = history
    report = reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                                     granularity="week", actor=acting(world.manager))
    assert_login_redirect(client.get(URL), URL)
    client.force_login(world.agent)
    assert client.get(URL).status_code == 403
    assert client.get(reverse("sla:report", args=[report.pk])).status_code == 403
    client.force_login(world.outsider)  # an agent of another organization
    assert client.get(reverse("sla:report", args=[report.pk])).status_code == 403


def test_another_organizations_report_is_404(client, history):
    world = history
    report = reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                                     granularity="week", actor=acting(world.manager))
    from factories import member

    from lumiodesk.models import Role

    their_manager = member(world.other_org, Role.MANAGER)
    client.force_login(their_manager)
    assert client.get(reverse("sla:report", args=[report.pk])).status_code == 404


def test_invalid_periods(client, history):
    client.force_login(history.manager)
    response = client.post(URL, {"start": "2025-03-16", "end": "2025-03-10", "granularity": "week"})
    assert response.status_code == 400
    assert "La fin de la période doit suivre son début." in response.content.decode()
    response = client.post(URL, {"start": "2024-01-01", "end": "2025-03-10", "granularity": "day"})
    assert response.status_code == 400
    assert SlaReport.objects.count() == 0


def test_htmx_list(client, history):
    world = history
    reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                            granularity="month", actor=acting(world.manager))
    client.force_login(world.manager)
    html = assert_partial(client.get(URL, **htmx("report-list")))
    assert "10/03/2025 – 16/03/2025" in html
