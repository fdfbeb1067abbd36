"""The cost dashboard (Managers; Viewers read), its CSV export, Settings > Hourly costs and budget forms."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import SYSTEM, CompanyFactory, TicketFactory, acting

from crm import budgets, rates
from crm.models import Budget, HourlyRate
from tickets.costs import services
from tickets.costs.models import TimeEntry

pytestmark = pytest.mark.django_db


def _log(world, n: int, company) -> None:
    rates.set_rate(actor=SYSTEM, organization=world.org, user=world.agent, amount="60", effective_from=date(2020, 1, 1))
    world.customer.company = company
    world.customer.save(update_fields=["company"])
    for i in range(n):
        ticket = TicketFactory(organization=world.org, customer=world.customer) if i % 3 == 0 else world.ticket
        services.log_time(actor=acting(world.agent), ticket=ticket, minutes=30, day=date(2025, 1 + i % 3, 10),
                          note="=HYPERLINK(\"x\")" if i == 0 else "")


def test_managers_and_viewers_read_the_dashboard_agents_do_not(client, world):
    company = CompanyFactory(organization=world.org, name="Boulangerie Martin")
    _log(world, 6, company)
    budgets.save_budget(actor=SYSTEM, organization=world.org, period="quarter", day=date(2025, 1, 1), amount="100",
                        company=company)
    url = reverse("costs:dashboard") + "?start=2025-01-01&end=2025-03-31"
    client.force_login(world.viewer)
    html = client.get(url).content.decode()
    assert "180,00 EUR" in html and "Boulangerie Martin" in html and "<svg" in html and "bar-over" in html
    client.force_login(world.agent)
    assert client.get(url).status_code == 403
    client.force_login(world.manager)
    assert client.get(url + f"&company={company.pk}").status_code == 200
    assert client.get(reverse("costs:dashboard") + "?start=2025-03-01&end=2025-01-01").status_code == 302  # refused


def test_the_csv_export_lists_every_entry_without_formulas(client, world):
    _log(world, 3, CompanyFactory(organization=world.org))
    client.force_login(world.viewer)
    response = client.get(reverse("costs:csv") + "?start=2025-01-01&end=2025-12-31")
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert len(lines) == 4 and "Coût (EUR)" in lines[0]
    assert "'=HYPERLINK" in body and ";30;60.00;30.00;" in body


def test_the_dashboard_costs_the_same_queries_for_10_and_100_entries(client, world):
    company = CompanyFactory(organization=world.org)
    client.force_login(world.manager)
    url = reverse("costs:dashboard") + "?start=2025-01-01&end=2025-12-31"
    client.get(url)
    counts = []
    for n in (10, 90):
        _log(world, n, company)
        budgets.save_budget(actor=SYSTEM, organization=world.org, period="month", day=date(2025, n // 30 + 1, 1),
                            amount="100", company=company)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append([q["sql"] for q in ctx.captured_queries])
    assert TimeEntry.objects.count() == 100
    assert len(counts[0]) == len(counts[1]), "\n".join(counts[1])


def test_admins_set_hourly_costs_managers_read_them(client, world):
    url = reverse("costs:rates")
    client.force_login(world.manager)
    assert client.get(url).status_code == 200
    assert client.post(url, {"user": world.agent.pk, "amount": "40"}).status_code == 403
    client.force_login(world.admin)
    response = client.post(url, {"user": world.agent.pk, "amount": "42,5", "effective_from": "2025-01-01"})
    assert response.status_code == 302
    assert HourlyRate.objects.get(user=world.agent).amount == 42.5
    assert client.post(url, {"user": world.outsider.pk, "amount": "40"}).status_code == 400
    assert client.post(url, {"user": world.agent.pk, "amount": "abc"}).status_code == 400
    assert "42,50 EUR/h" in client.get(url).content.decode()


def test_managers_set_budgets_on_a_record(client, world):
    client.force_login(world.manager)
    response = client.post(reverse("costs:budget_save"), {"customer": world.customer.pk, "period": "month",
                                                          "start": "2025-03-15", "amount": "500"})
    assert response.status_code == 302
    budget = Budget.objects.get(customer=world.customer)
    assert budget.start == date(2025, 3, 1)
    client.force_login(world.agent)
    assert client.post(reverse("costs:budget_delete", args=[budget.pk])).status_code == 403
    client.force_login(world.outsider)
    assert client.post(reverse("costs:budget_delete", args=[budget.pk])).status_code == 403
    client.force_login(world.manager)
    other_customer = world.other_ticket.customer
    assert client.post(reverse("costs:budget_save"), {"customer": other_customer.pk, "period": "month",
                                                      "amount": "5"}).status_code == 404
    assert client.post(reverse("costs:budget_delete", args=[budget.pk])).status_code == 302
    assert not Budget.objects.exists()


def test_the_pdf_export(client, world):
    _log(world, 3, CompanyFactory(organization=world.org, name="Boulangerie Martin"))
    client.force_login(world.viewer)
    response = client.get(reverse("costs:pdf") + "?start=2025-01&end=2025-12")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    client.force_login(world.agent)
    assert client.get(reverse("costs:pdf")).status_code == 403
