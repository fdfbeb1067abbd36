"""Reports > Tableau de bord, the "Budgets" panel: the current period's budgets of companies and customers, the
most at risk first, with their consumption, state (within budget, 80 % threshold, overrun predicted by the pace,
over), links to the records and the cost dashboard; the organization's budgets only; shown to roles with
``costs.view``; a fixed number of queries (tests/sla/test_view_dashboard.py counts them with budgets)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import SYSTEM, CompanyFactory, CustomerFactory, TicketFactory, acting

from crm import budgets, rates
from lumiodesk.permissions import role_can
from tickets.costs import selectors
from tickets.costs import services as time_services

pytestmark = pytest.mark.django_db

URL = reverse("sla:dashboard")
PARIS = ZoneInfo("Europe/Paris")
MARCH = date(2025, 3, 3)


def _budget(world, amount, minutes, *, company=None, customer=None, period="month", day=MARCH, org=None):
    org = org or world.org
    budget = budgets.save_budget(actor=SYSTEM, organization=org, period=period, day=day, amount=amount,
                                 company=company, customer=customer)
    if minutes and org == world.org:
        owner = customer or CustomerFactory(organization=org, company=company)
        ticket = TicketFactory(organization=org, customer=owner)
        time_services.log_time(actor=acting(world.agent), ticket=ticket, minutes=minutes, day=day)
    return budget


@pytest.fixture
def costed(clock, world):
    """On 12 March 2025, at 60 EUR/h: budgets over, at 85 %, heading for an overrun, within; and others not shown."""
    clock.set(datetime(2025, 3, 12, 15, tzinfo=PARIS))
    rates.set_rate(actor=SYSTEM, organization=world.org, user=world.agent, amount="60", effective_from=date(2025, 1, 1))
    world.initech = CompanyFactory(organization=world.org, name="Initech")
    world.over = _budget(world, "100", 120, company=world.initech)  # 120 EUR: 120 %
    world.near = _budget(world, "100", 85, customer=CustomerFactory(organization=world.org, last_name="Presque"))
    world.pace = _budget(world, "100", 60, customer=CustomerFactory(organization=world.org, last_name="Rythme"))
    world.within = _budget(world, "1000", 60, customer=world.customer)  # 6 %, forecast 155 EUR
    world.past = _budget(world, "50", 0, customer=world.customer, day=date(2025, 2, 1))
    world.theirs = _budget(world, "70", 0, company=CompanyFactory(organization=world.other_org, name="Globex SA"),
                           org=world.other_org)
    return world


def test_managers_see_the_current_budgets_most_at_risk_first(client, costed):
    w = costed
    client.force_login(w.manager)
    response = client.get(URL)
    assert response.status_code == 200
    shown = response.context["budgets"]
    assert [s.budget.pk for s in shown] == [w.over.pk, w.near.pk, w.pace.pk, w.within.pk]
    assert [(s.pace.percent, s.pace.state) for s in shown] == [(120, "over"), (85, "warning"), (60, "warning"),
                                                              (6, "ok")]
    assert response.context["budgets_total"] == 4
    html = response.content.decode()
    panel = html[html.index('id="dash-budgets-title"'):html.index("Rapports PDF")]
    for text in ("Initech", "Dépassé", "Seuil d'alerte 80 %", "Dépassement prévu", "Dans le budget",
                 "120&nbsp;%", "120,00 / 100,00&nbsp;EUR", "Presque", "Rythme"):
        assert text in panel, text
    assert "Globex SA" not in panel and "50,00" not in panel  # another organization's; a past period's
    assert reverse("customers:company", args=[w.initech.pk]) in panel
    assert reverse("customers:detail", args=[w.customer.pk]) in panel
    assert f"{reverse('costs:dashboard')}?start=2025-03&amp;end=2025-03&amp;company={w.initech.pk}" in panel


def test_viewers_see_the_panel_the_htmx_filters_do_not_recompute_it(client, costed):
    w = costed
    assert role_can("viewer", "costs.view")
    client.force_login(w.viewer)
    assert "dash-budgets-title" in client.get(URL).content.decode()
    client.force_login(w.manager)
    partial = client.get(URL, {"start": "2025-03-01"}, HTTP_HX_REQUEST="true")
    assert "budgets" not in partial.context and "dash-budgets-title" not in partial.content.decode()


def test_without_budgets_the_panel_says_so(client, world):
    client.force_login(world.manager)
    html = client.get(URL).content.decode()
    assert "Aucun budget pour la période en cours." in html


def test_the_panel_is_one_query_whatever_the_number_of_budgets(costed):
    w = costed
    today = date(2025, 3, 12)
    with CaptureQueriesContext(connection) as ctx:
        selectors.current_budget_statuses(w.org.pk, today)
    for i in range(30):
        _budget(w, "500", 10 if i % 3 == 0 else 0, customer=CustomerFactory(organization=w.org))
    with CaptureQueriesContext(connection) as more:
        statuses, total = selectors.current_budget_statuses(w.org.pk, today, limit=20)
    assert len(ctx.captured_queries) == len(more.captured_queries) == 1
    assert total == 34 and len(statuses) == 20 and statuses[0].budget.pk == w.over.pk
