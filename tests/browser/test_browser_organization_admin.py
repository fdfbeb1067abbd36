"""Issue 17's "Done when", end to end in Chromium, in one live server: a new user signs up, verifies the address
from the email and signs in; invites a colleague who accepts (their own browser); enables 2FA with a real TOTP and
makes it mandatory (the colleague is sent to set it up at their next sign-in); moves the organization to a plan with
SSO (Settings > Billing); configures SAML SSO against the IdP on loopback (tests/sso_idp.py) and the colleague
signs in through it, then gives their 2FA code; deactivates the colleague, whose open tickets are reassigned (and
whose next SSO sign-in is refused); and reads all of it in the audit log. Screenshots at 1366 px and 390 px
(artifacts/screenshots/org-admin-*)."""

from __future__ import annotations

from base64 import b32decode

import pytest
from account_helpers import fresh_rate_limits, link_in
from conftest import run_queued
from django_otp.oath import totp
from factories import TicketFactory

from lumiodesk.models import AuditLog, Membership, Organization, Plan, Role
from lumiodesk.sso import saml
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "un-pain-au-chocolat-42"
SAM_PASSWORD = "une-equipe-soudee-7"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _context(browser, viewport: dict):
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Berlin", viewport=viewport)
    context.set_default_timeout(10_000)
    return context


def both_widths(page, screenshot, name: str) -> None:
    """One screen at 1366 px and at 390 px (the page's own width is restored after)."""
    before = page.viewport_size
    page.set_viewport_size(DESKTOP)
    screenshot(page, f"org-admin-{name}-1366", full_page=True)
    page.set_viewport_size(PHONE)
    screenshot(page, f"org-admin-{name}-390", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, name
    page.set_viewport_size(before)


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key typed from the page (``steps_ahead``: a later 30 s step)."""
    secret = secret.replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, step=30, t0=-30 * steps_ahead, digits=6):06d}"


def password_sign_in(page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Se connecter").click()


def enable_two_factor(page) -> str:
    """From the account's Security page: scan (read the key), confirm with the app's code; returns the key."""
    page.get_by_role("button", name="Activer la double authentification").click()
    page.wait_for_url("**/account/security/two-factor/")
    page.locator(".qr svg").wait_for()
    secret = page.locator("#totp-secret").inner_text()
    page.fill("input[name=code]", app_code(secret))
    page.get_by_role("button", name="Confirmer").click()
    page.get_by_text("La double authentification est activée.").wait_for()
    assert page.locator("#recovery-codes li").count() == 10
    return secret


def test_sign_up_team_two_factor_sso_deactivation_and_audit_log(
    live_server, browser, queued_tasks, mailoutbox, screenshot, saml_idp_server, settings, monkeypatch
):
    fresh_rate_limits(monkeypatch)
    url = settings.SITE_URL = live_server.url
    admin_ctx = _context(browser, DESKTOP)
    page = admin_ctx.new_page()

    # 1. Léa signs up her company (time zone and language from the browser).
    page.goto(f"{url}/signup/")
    assert page.locator("select[name=time_zone]").input_value() == "Europe/Berlin"
    both_widths(page, screenshot, "signup")
    page.fill("input[name=company]", "Fournil Dupuis")
    page.fill("input[name=first_name]", "Léa")
    page.fill("input[name=last_name]", "Dupuis")
    page.fill("input[name=email]", "lea@fournil.test")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url("**/signup/done/")
    org = Organization.objects.get(slug="fournil-dupuis")

    # 2. She verifies her address from the email, then signs in.
    run_queued(queued_tasks)
    page.goto(url + link_in(mailoutbox[-1], "/signup/verify/"))
    page.get_by_role("button", name="Confirmer mon adresse").click()
    page.wait_for_url("**/login/**")
    assert page.locator("input[name=username]").input_value() == "lea@fournil.test"
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/tickets/")
    lea = Membership.objects.get(organization=org, role=Role.ADMIN).user

    # 3. She invites Sam, who accepts in his own browser (a phone).
    page.goto(f"{url}/settings/team/")
    page.fill("input[name=email]", "sam@fournil.test")
    page.select_option("select[name=role]", Role.AGENT)
    page.get_by_role("button", name="Envoyer l'invitation").click()
    page.get_by_text("Invitation envoyée à sam@fournil.test").wait_for()
    run_queued(queued_tasks)
    invitation_path = link_in(mailoutbox[-1], "/invitation/")
    sam_ctx = _context(browser, PHONE)
    sam = sam_ctx.new_page()
    sam.goto(url + invitation_path)
    both_widths(sam, screenshot, "invitation")
    sam.fill("input[name=first_name]", "Sam")
    sam.fill("input[name=last_name]", "Petit")
    sam.fill("input[name=password]", SAM_PASSWORD)
    sam.get_by_role("button", name="Créer mon compte et rejoindre l'équipe").click()
    sam.wait_for_url("**/tickets/")
    sam.get_by_role("button", name="Déconnexion").click()
    sam.wait_for_url("**/login/**")
    sam_user = Membership.objects.get(organization=org, user__email="sam@fournil.test").user

    # 4. Léa enables 2FA (her name in the top bar: the Security page) and makes it mandatory.
    page.locator("header.topbar a.who").click()
    page.wait_for_url("**/account/security/")
    enable_two_factor(page)
    page.goto(f"{url}/settings/security/")
    page.check("input[name=two_factor_required]")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("La double authentification est obligatoire").wait_for()
    both_widths(page, screenshot, "two-factor-policy")

    # 5. Sam's next sign-in sends him to set it up; he can go nowhere else until he has.
    password_sign_in(sam, url, "sam@fournil.test", SAM_PASSWORD)
    sam.wait_for_url("**/account/security/")
    sam.get_by_text("Votre organisation impose la double authentification").wait_for()
    both_widths(sam, screenshot, "two-factor-required")
    sam.goto(f"{url}/tickets/")
    sam.wait_for_url("**/account/security/")
    sam_secret = enable_two_factor(sam)
    sam.goto(f"{url}/tickets/")
    sam.wait_for_url("**/tickets/")
    sam.get_by_role("button", name="Déconnexion").click()
    sam.wait_for_url("**/login/**")

    # 6. Léa moves the organization to Business (Settings > Billing), which includes SAML SSO.
    page.goto(f"{url}/settings/sso/")
    page.get_by_text("n'est pas inclus dans le forfait").first.wait_for()
    page.goto(f"{url}/settings/billing/")
    page.locator(f"a[href$='?plan={Plan.BUSINESS}']").click()
    page.get_by_role("button", name="Confirmer : passer à Business").click()
    page.get_by_text("Votre forfait est maintenant Business.").wait_for()
    org.refresh_from_db()
    assert org.plan == Plan.BUSINESS

    # 7. ... and configures SSO with the IdP's metadata.
    idp = saml_idp_server
    idp.audience, idp.lifetime, idp.sign_assertion = None, {"minutes": 15}, True
    idp.sp_metadata = [saml.sp_metadata(org.slug)]
    idp.user = {"uid": "sam.petit", "mail": "sam@fournil.test", "displayName": "Sam Petit",
                "givenName": "Sam", "sn": "Petit"}
    page.goto(f"{url}/settings/sso/")
    assert page.locator("#sso-acs").inner_text() == f"{url}/sso/{org.slug}/acs/"
    page.fill("textarea[name=metadata_xml]", idp.metadata())
    page.fill("input[name=email_domains]", "fournil.test")
    page.check("input[name=is_enabled]")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Configuration SSO enregistrée.").wait_for()
    page.get_by_text(idp.entity_id).first.wait_for()
    both_widths(page, screenshot, "sso-settings")

    # 8. Sam signs in through the IdP, then gives his 2FA code (the next step's: enrolment used the current one).
    sam.goto(f"{url}/login/")
    sam.get_by_role("link", name="Se connecter avec SSO").click()
    sam.wait_for_url("**/sso/")
    sam.fill("input[name=identifier]", "sam@fournil.test")
    requests_before = idp.requests
    sam.get_by_role("button", name="Continuer").click()
    sam.wait_for_url("**/login/verify/**")
    assert idp.requests == requests_before + 1  # went through the IdP
    both_widths(sam, screenshot, "sso-two-factor-verify")
    sam.fill("input[name=code]", app_code(sam_secret, steps_ahead=1))
    sam.get_by_role("button", name="Vérifier").click()
    sam.wait_for_url("**/tickets/")
    sam.get_by_role("button", name="Déconnexion").wait_for()

    # 9. Sam has two open tickets; Léa deactivates him and gives them to herself.
    tickets = [TicketFactory(organization=org, assignee=sam_user) for _ in range(2)]
    page.goto(f"{url}/settings/team/")
    page.locator("tr[data-member='sam@fournil.test']").get_by_role("link", name="Désactiver").click()
    page.select_option("select[name=reassign_to]", str(lea.pk))
    both_widths(page, screenshot, "deactivate")
    page.get_by_role("button", name="Désactiver et réassigner").click()
    page.get_by_text("2 ticket(s) ouvert(s) réassigné(s)").wait_for()
    both_widths(page, screenshot, "team")
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("assignee_id", flat=True)) == {
        lea.pk}
    assert not Membership.objects.get(organization=org, user=sam_user).is_active

    # ... and Sam's next SSO sign-in is refused.
    sam.get_by_role("button", name="Déconnexion").click()
    sam.wait_for_url("**/login/**")
    sam.goto(f"{url}/sso/")
    sam.fill("input[name=identifier]", "sam@fournil.test")
    sam.get_by_role("button", name="Continuer").click()
    sam.get_by_text("Votre accès à cette organisation est désactivé").wait_for()
    sam_ctx.close()

    # 10. The audit log tells all of it.
    page.goto(f"{url}/settings/audit/")
    table = page.locator("#audit")
    for label in ("Organisation créée", "Adresse email vérifiée", "Connexion", "Invitation envoyée",
                  "Invitation acceptée", "Double authentification activée",
                  "Politique de double authentification modifiée", "Code de double authentification validé",
                  "Membre désactivé", "Ticket assigné"):
        assert table.get_by_text(label, exact=True).first.is_visible(), label
    text = table.inner_text()
    for action in ("sso.updated", "signin.sso", "signin.sso_failed", "billing.subscription.active"):
        assert action in text, action
    assert "sam@fournil.test" in text and "127.0.0.1" in text
    both_widths(page, screenshot, "audit")
    # Filtered by action: Sam's SSO sign-in alone.
    page.select_option("select[name=action]", "signin.sso")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**action=signin.sso**")
    assert page.locator("#audit tbody tr").count() == 1
    assert "sam@fournil.test" in page.locator("#audit").inner_text()
    admin_ctx.close()

    actions = set(AuditLog.objects.filter(organization=org).values_list("action", flat=True))
    assert {"organization.created", "account.verified", "invitation.sent", "invitation.accepted",
            "two_factor.enabled", "two_factor.policy_changed", "sso.updated", "signin.sso",
            "member.deactivated"} <= actions
