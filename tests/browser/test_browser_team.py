"""Organization administration end to end in Chromium: sign up → verify the address from the email → sign in →
invite a colleague → the colleague accepts → deactivate a member with reassignment → read it in the audit log.
Screenshots at 1366 px and 390 px (artifacts/screenshots/)."""

from __future__ import annotations

import pytest
from account_helpers import fresh_rate_limits, link_in
from conftest import run_queued
from factories import TicketFactory

from lumiodesk.models import Membership, Organization, Role
from tickets.models import Tag, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "un-pain-au-chocolat-42"


def _context(browser, width: int = 1366, height: int = 900):
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Berlin",
                                  viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    return context


def test_sign_up_verify_invite_accept_deactivate_and_audit(live_server, browser, queued_tasks, mailoutbox,
                                                           screenshot, monkeypatch):
    fresh_rate_limits(monkeypatch)
    url = live_server.url
    admin_ctx = _context(browser)
    page = admin_ctx.new_page()

    # Sign up: time zone and language come from the browser.
    page.goto(f"{url}/signup/")
    assert page.locator("select[name=time_zone]").input_value() == "Europe/Berlin"
    assert page.locator("select[name=language]").input_value() == "fr"
    screenshot(page, "team-signup-1366", full_page=True)
    page.fill("input[name=company]", "Boulangerie Martin")
    page.fill("input[name=first_name]", "Léa")
    page.fill("input[name=last_name]", "Martin")
    page.fill("input[name=email]", "lea@martin.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url("**/signup/done/")
    org = Organization.objects.get(slug="boulangerie-martin")
    assert org.time_zone == "Europe/Berlin"
    assert Tag.objects.filter(organization=org).count() == 3

    # Signing in before verifying is refused, with a resend button.
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", "lea@martin.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("form >> nth=-1 >> button[type=submit]")
    page.get_by_text("pas encore vérifiée").wait_for()
    assert page.get_by_role("button", name="Renvoyer le lien de vérification").is_visible()

    # Verify from the email, then sign in.
    run_queued(queued_tasks)
    page.goto(url + link_in(mailoutbox[-1], "/signup/verify/"))
    page.get_by_role("button", name="Confirmer mon adresse").click()
    page.wait_for_url("**/login/**")
    assert page.locator("input[name=username]").input_value() == "lea@martin.test"
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/tickets/")

    # Invite a colleague.
    page.goto(f"{url}/settings/team/")
    page.fill("input[name=email]", "sam@martin.test")
    page.select_option("select[name=role]", Role.AGENT)
    page.get_by_role("button", name="Envoyer l'invitation").click()
    page.get_by_text("Invitation envoyée à sam@martin.test").wait_for()
    run_queued(queued_tasks)
    invitation_path = link_in(mailoutbox[-1], "/invitation/")

    # The colleague accepts in their own browser.
    sam_ctx = _context(browser)
    sam = sam_ctx.new_page()
    sam.goto(url + invitation_path)
    sam.fill("input[name=first_name]", "Sam")
    sam.fill("input[name=last_name]", "Petit")
    sam.fill("input[name=password]", "une-equipe-soudee-7")
    sam.get_by_role("button", name="Créer mon compte et rejoindre l'équipe").click()
    sam.wait_for_url("**/tickets/")
    sam_ctx.close()
    sam_user = Membership.objects.get(organization=org, user__email="sam@martin.test").user

    # Sam had open tickets; deactivate Sam and give them to Léa.
    tickets = [TicketFactory(organization=org, assignee=sam_user) for _ in range(2)]
    page.goto(f"{url}/settings/team/")
    page.get_by_text("2 sièges utilisés sur 3 inclus").wait_for()
    screenshot(page, "team-page-1366", full_page=True)
    page.locator("tr[data-member='sam@martin.test']").get_by_role("link", name="Désactiver").click()
    lea = Membership.objects.get(organization=org, role=Role.ADMIN).user
    page.select_option("select[name=reassign_to]", str(lea.pk))
    page.get_by_role("button", name="Désactiver et réassigner").click()
    page.get_by_text("2 ticket(s) ouvert(s) réassigné(s)").wait_for()
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("assignee_id", flat=True)) == {
        lea.pk}
    assert not Membership.objects.get(organization=org, user=sam_user).is_active

    # The audit log tells all of it.
    page.goto(f"{url}/settings/audit/")
    table = page.locator("#audit")
    for label in ("Membre désactivé", "Invitation acceptée", "Invitation envoyée", "Connexion",
                  "Adresse email vérifiée", "Organisation créée", "Ticket assigné"):
        assert table.get_by_text(label, exact=True).first.is_visible(), label
    assert "127.0.0.1" in table.inner_text()
    screenshot(page, "team-audit-1366", full_page=True)

    # The same screens on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "team-audit-390", full_page=True)
    page.goto(f"{url}/settings/team/")
    screenshot(page, "team-page-390", full_page=True)
    page.goto(f"{url}/settings/organization/")
    screenshot(page, "team-organization-390", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    admin_ctx.close()
