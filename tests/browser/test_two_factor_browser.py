"""2FA end to end in Chromium: an Admin enables 2FA with a real TOTP (computed from the key the page shows, as an
authenticator app would), makes it mandatory for the organization, a second member is sent to set it up at their
next sign-in, and the Admin's next sign-in asks for the code. Screenshots at 1366 px and 390 px
(artifacts/screenshots/)."""

from __future__ import annotations

from base64 import b32decode

import pytest
from account_helpers import fresh_rate_limits
from django_otp.oath import totp

from lumiodesk.models import AuditLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "secret-pass-123"  # factories.UserFactory


def _context(browser, width: int = 1366, height: int = 900):
    context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    return context


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What the authenticator app shows for the key typed from the page (``steps_ahead``: a later 30 s step)."""
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{totp(key, step=30, t0=-30 * steps_ahead, digits=6):06d}"


def sign_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def enable_two_factor(page, screenshot, name: str) -> tuple[str, list[str]]:
    page.get_by_role("button", name="Activer la double authentification").click()
    page.wait_for_url("**/account/security/two-factor/")
    assert page.locator(".qr svg").is_visible()
    screenshot(page, f"{name}-qr", full_page=True)
    secret = page.locator("#totp-secret").inner_text()
    page.fill("input[name=code]", app_code(secret))
    page.get_by_role("button", name="Confirmer").click()
    page.get_by_text("La double authentification est activée.").wait_for()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, f"{name}-codes", full_page=True)
    return secret, codes


def test_admin_enables_2fa_makes_it_mandatory_and_a_member_sets_it_up(live_server, browser, world, screenshot,
                                                                     monkeypatch):
    fresh_rate_limits(monkeypatch)
    url = live_server.url
    admin_ctx = _context(browser)
    page = admin_ctx.new_page()

    # The Admin enables 2FA from the Security page (their name in the top bar).
    sign_in(page, url, world.admin.email)
    page.wait_for_url("**/tickets/")
    page.locator("header.topbar a.who").click()  # one's own name: the account's Security page
    page.wait_for_url("**/account/security/")
    secret, _codes = enable_two_factor(page, screenshot, "two-factor-admin-1366")

    # ... and makes it mandatory (Settings > Sign-in security).
    page.goto(f"{url}/settings/security/")
    page.check("input[name=two_factor_required]")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("La double authentification est obligatoire").wait_for()
    screenshot(page, "two-factor-policy-1366", full_page=True)

    # The Agent, at their next sign-in, is sent to set it up and can go nowhere else.
    agent_ctx = _context(browser, width=390, height=844)
    agent = agent_ctx.new_page()
    sign_in(agent, url, world.agent.email)
    agent.wait_for_url("**/account/security/")
    agent.get_by_text("Votre organisation impose la double authentification").wait_for()
    screenshot(agent, "two-factor-required-390", full_page=True)
    agent.goto(f"{url}/kb/")
    agent.wait_for_url("**/account/security/")
    enable_two_factor(agent, screenshot, "two-factor-agent-390")
    agent.goto(f"{url}/tickets/")
    assert agent.url.endswith("/tickets/")
    agent_ctx.close()

    # The Admin's next sign-in asks for the code (the next step's: the enrolment used the current one).
    page.get_by_role("button", name="Déconnexion").click()
    sign_in(page, url, world.admin.email)
    page.wait_for_url("**/login/verify/**")
    assert page.locator("header.topbar").count() == 0
    screenshot(page, "two-factor-verify-1366", full_page=True)
    page.fill("input[name=code]", app_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_url("**/tickets/")
    admin_ctx.close()

    actions = set(AuditLog.objects.filter(organization=world.org).values_list("action", flat=True))
    assert {"two_factor.enabled", "two_factor.policy_changed"} <= actions
