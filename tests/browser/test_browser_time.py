"""The ticket page's timer in a real browser: it starts, survives a reload, stops into a costed entry; the
customer record and the cost dashboard at 1366 and 390 px."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import browser_login
from factories import SYSTEM

from crm import rates
from tickets.costs.models import TimeEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_timer_survives_a_reload_and_stops_into_an_entry(live_server, page, world, screenshot):
    rates.set_rate(actor=SYSTEM, organization=world.org, user=world.manager, amount="60",
                   effective_from=date(2020, 1, 1))
    browser_login(page, live_server.url, world.manager.email)
    page.goto(f"{live_server.url}/tickets/{world.ticket.number}/")
    page.get_by_role("button", name="Démarrer le chronomètre").click()
    page.get_by_role("button", name="Arrêter").wait_for()
    page.reload()
    page.get_by_role("button", name="Arrêter").wait_for()  # the timer runs on the server
    screenshot(page.locator("#time-block"), "ticket-timer")
    page.get_by_role("button", name="Arrêter").click()
    page.get_by_role("button", name="Démarrer le chronomètre").wait_for()
    entry = TimeEntry.objects.get(ticket=world.ticket)
    assert not entry.running and entry.minutes >= 1 and entry.rate == 60

    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/customers/{world.customer.pk}/")
        page.get_by_text("Temps et coût à ce jour").wait_for()
        screenshot(page, f"customer-record-{width}", full_page=True)
        page.goto(f"{live_server.url}/costs/")
        page.get_by_text("Budget et réel").wait_for()
        screenshot(page, f"cost-dashboard-{width}", full_page=True)
