"""SAML SSO in a real browser, against the real IdP on loopback (tests/sso_idp.py): an Admin configures SSO in
Settings > SSO by pasting the IdP's metadata, then a new colleague signs in through "Se connecter avec SSO" and is
created just in time. LumioDesk runs on ``localhost``, the IdP on ``127.0.0.1``: two sites, so the IdP's POST
arrives without our SameSite=Lax cookie and the ACS posts it again from our own page, as with a real IdP.
Screenshots at 1366 px and 390 px."""

from __future__ import annotations

import pytest
from conftest import browser_login

from lumiodesk.models import AuditLog, Membership, Plan, Role
from lumiodesk.sso import saml
from lumiodesk.sso.models import SsoConfig

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 800}


def both_widths(page, screenshot, name: str) -> None:
    page.set_viewport_size(DESKTOP)
    screenshot(page, f"{name}-1366", full_page=True)
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-390", full_page=True)
    page.set_viewport_size(DESKTOP)


def test_admin_configures_sso_and_a_colleague_signs_in_through_the_idp(
    live_server, page, world, screenshot, saml_idp_server, settings
):
    settings.SITE_URL = live_server.url
    idp = saml_idp_server
    idp.audience, idp.lifetime, idp.sign_assertion = None, {"minutes": 15}, True
    idp.sp_metadata = [saml.sp_metadata("acme")]
    idp.user = {"uid": "nina.martin", "mail": "nina.martin@acme-corp.test", "displayName": "Nina Martin",
                "givenName": "Nina", "sn": "Martin"}
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])

    # The Admin: Settings > Connexion SSO, paste the metadata, enable.
    browser_login(page, live_server.url, world.admin.email)
    page.goto(f"{live_server.url}/tickets/")
    page.get_by_text("Paramètres", exact=True).click()
    page.get_by_role("link", name="Connexion SSO").click()
    page.wait_for_url("**/settings/sso/")
    assert page.locator("#sso-acs").inner_text() == f"{live_server.url}/sso/acme/acs/"
    page.fill("textarea[name=metadata_xml]", idp.metadata())
    page.fill("input[name=email_domains]", "acme-corp.test")
    page.check("input[name=is_enabled]")
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Configuration SSO enregistrée.").wait_for()
    page.get_by_text(idp.entity_id).first.wait_for()
    both_widths(page, screenshot, "sso-settings")
    config = SsoConfig.objects.get(organization=world.org)
    assert config.is_enabled and config.idp_entity_id == idp.entity_id

    page.get_by_role("button", name="Déconnexion").click()
    page.wait_for_url("**/login/")

    # The colleague: "Se connecter avec SSO", her email, the IdP, back signed in.
    page.get_by_role("link", name="Se connecter avec SSO").click()
    page.wait_for_url("**/sso/")
    page.fill("input[name=identifier]", "nina.martin@acme-corp.test")
    both_widths(page, screenshot, "sso-choose")
    requests_before = idp.requests
    acs_posts = []
    page.on("request", lambda r: acs_posts.append(r.url) if r.method == "POST" and "/acs/" in r.url else None)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(f"{live_server.url}/tickets/")
    assert idp.requests == requests_before + 1  # went through the IdP
    page.get_by_text("Bienvenue ! Votre accès à Acme a été créé").wait_for()
    page.get_by_text("Nina Martin · Agent").wait_for()
    assert len(acs_posts) == 2  # the IdP's cross-site POST, then ours with the session cookie
    both_widths(page, screenshot, "sso-signed-in")

    membership = Membership.objects.get(organization=world.org, user__email="nina.martin@acme-corp.test")
    assert membership.role == Role.AGENT
    assert AuditLog.objects.filter(organization=world.org, action="signin.sso", actor=membership.user).exists()
