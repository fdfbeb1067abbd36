"""The dashboard in Chromium at 1366 px and 390 px: its charts fit the phone's width (no sideways scroll), a
bar opens the ticket list it counts. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

import pytest
from conftest import browser_login
from factories import TicketFactory, acting

from tickets import services
from tickets.models import MessageKind, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _history(world):
    for i in range(12):
        t = TicketFactory(organization=world.org, priority=("urgent", "high", "normal", "low")[i % 4],
                          assignee=(world.agent, world.manager, None)[i % 3], actor=world.manager,
                          subject=f"Demande {i}")
        if i % 2:
            services.add_message(ticket=t, kind=MessageKind.REPLY, body="Réponse", actor=acting(world.manager))
        if i % 3 == 0:
            services.change_status(ticket=t, status=Status.RESOLVED, actor=acting(world.manager))


@pytest.mark.parametrize("width", [1366, 390])
def test_the_dashboard_reads_on_a_desktop_and_a_phone(live_server, browser, world, screenshot, width):
    _history(world)
    context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    world.manager.set_password("secret-pass-123")
    world.manager.save()
    browser_login(page, live_server.url, world.manager.email)
    page.goto(f"{live_server.url}/reports/dashboard/")
    assert page.locator("h1").inner_text() == "Tableau de bord"
    assert page.locator("svg").count() >= 4
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"sideways scroll of {overflow} px at {width} px"
    screenshot(page, f"dashboard-{width}", full_page=True)
    page.click(".dash-card >> nth=0 >> a")  # "Tickets ouverts": the open backlog
    page.wait_for_url("**/tickets/**status=active**")
    assert page.locator("tbody tr").count() >= 1
    context.close()
