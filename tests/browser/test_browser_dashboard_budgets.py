"""The dashboard's Budgets panel in Chromium at 390 px: its table fits the phone's width (no sideways scroll of
the page nor of the table), long company names wrap. Screenshot in artifacts/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import browser_login
from django.utils import timezone
from factories import SYSTEM, CompanyFactory, CustomerFactory, TicketFactory, acting

from crm import budgets, rates
from tickets.costs import services as time_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_budget_panel_reads_on_a_phone(live_server, browser, world, screenshot):
    today = timezone.localdate()
    rates.set_rate(actor=SYSTEM, organization=world.org, user=world.agent, amount="60",
                   effective_from=today - timedelta(days=400))
    for i, (amount, minutes) in enumerate([("100", 150), ("1000", 30), ("250000", 0)]):
        company = CompanyFactory(organization=world.org, name=f"Établissements Durand-Lefebvre et Associés {i}")
        budgets.save_budget(actor=SYSTEM, organization=world.org, period="month", day=today, amount=amount,
                            company=company)
        if minutes:
            ticket = TicketFactory(organization=world.org, customer=CustomerFactory(organization=world.org,
                                                                                    company=company))
            time_services.log_time(actor=acting(world.agent), ticket=ticket, minutes=minutes, day=today)
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    world.manager.set_password("secret-pass-123")
    world.manager.save()
    browser_login(page, live_server.url, world.manager.email)
    page.goto(f"{live_server.url}/reports/dashboard/")
    table = page.locator("table.dash-budget-table")
    assert table.locator("tbody tr").count() == 3
    assert table.locator(".badge.budget-over").count() == 1
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"sideways scroll of {overflow} px"
    inner = page.evaluate("(() => { const s = document.querySelector('.dash-budgets .table-scroll');"
                          " return s.scrollWidth - s.clientWidth; })()")
    assert inner <= 0, f"the budget table scrolls sideways by {inner} px"
    table.scroll_into_view_if_needed()
    screenshot(page, "dashboard-budgets-390")
    context.close()
