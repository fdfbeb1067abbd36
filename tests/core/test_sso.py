"""SAML SSO per organization, end to end against a real IdP on loopback (tests/sso_idp.py, pysaml2 + xmlsec1).

The browser's part is played by Django's test client (our pages) and urllib (the IdP's page): sign-in starts at
``/sso/<org>/login/``, the IdP answers its auto-posting form, the test posts it to our ACS as the browser would.
"""

from __future__ import annotations

import urllib.request

import pytest
import saml2.time_util
from django.contrib.auth import get_user_model
from django.urls import reverse
from factories import acting
from sso_idp import decode, encode, read_form

from lumiodesk.access import SSO_SCOPE_KEY
from lumiodesk.exceptions import FeatureNotAvailable, InvalidInput
from lumiodesk.models import AuditLog, Membership, Plan, Role
from lumiodesk.sso import saml, services
from lumiodesk.sso.models import SsoConfig, UsedSamlAssertion

pytestmark = pytest.mark.django_db


@pytest.fixture
def idp(saml_idp_server):
    """The session's IdP with its default behaviour (each test may turn one knob)."""
    saml_idp_server.audience = None
    saml_idp_server.lifetime = {"minutes": 15}
    saml_idp_server.sign_assertion = True
    saml_idp_server.sp_metadata = [saml.sp_metadata("acme")]
    saml_idp_server.user = {
        "uid": "nina.martin", "mail": "nina.martin@acme-corp.test", "displayName": "Nina Martin",
        "givenName": "Nina", "sn": "Martin",
    }
    return saml_idp_server


@pytest.fixture
def sso_org(world, idp):
    """Acme on the Business plan, its SSO configured against the test IdP (pasted metadata), JIT as Agent."""
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])
    services.save_config(actor=acting(world.admin), is_enabled=True, metadata_xml=idp.metadata(),
                         email_domains="acme-corp.test, acme.test")
    return world.org


def idp_page(client, org_slug: str = "acme", **params) -> str:
    """Start the sign-in on our side, follow the redirect to the IdP: its HTML form."""
    response = client.get(reverse("sso:login", args=[org_slug]), params)
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith("http://127.0.0.1:")
    with urllib.request.urlopen(response["Location"], timeout=10) as answer:  # the real IdP, on loopback
        return answer.read().decode("utf-8")


def post_to_acs(client, page: str, *, saml_response: str | None = None):
    action, fields = read_form(page)
    assert action == saml.acs_url("acme")
    if saml_response is not None:
        fields["SAMLResponse"] = saml_response
    return client.post(action.removeprefix(saml.settings.SITE_URL), fields)


def last_failure(org) -> str:
    return AuditLog.objects.filter(organization=org, action="signin.sso_failed").latest("id").data["reason"]


def test_happy_path_signs_in_and_creates_the_member_just_in_time(client, sso_org, idp):
    assert not get_user_model().objects.filter(email="nina.martin@acme-corp.test").exists()
    response = post_to_acs(client, idp_page(client, next="/kb/"))
    assert response.status_code == 302 and response["Location"] == "/kb/"

    user = get_user_model().objects.get(email="nina.martin@acme-corp.test")
    assert (user.first_name, user.last_name) == ("Nina", "Martin")
    assert not user.has_usable_password()
    membership = Membership.objects.get(organization=sso_org, user=user)
    assert membership.role == Role.AGENT and membership.is_active
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session[SSO_SCOPE_KEY] == sso_org.pk
    row = AuditLog.objects.get(organization=sso_org, action="signin.sso")
    assert row.actor_id == user.pk and row.data["created_membership"] is True
    assert client.get(reverse("tickets:list")).status_code == 200  # signed in the console

    # The second time: the same member, nothing created.
    client.logout()
    assert post_to_acs(client, idp_page(client)).status_code == 302
    assert Membership.objects.filter(user=user).count() == 1


def test_an_sso_session_sees_only_that_organization(client, sso_org, idp, world):
    user = get_user_model().objects.create_user(username="nina.martin@acme-corp.test",
                                                email="nina.martin@acme-corp.test", password="secret-pass-123")
    Membership.objects.create(organization=sso_org, user=user, role=Role.AGENT)
    Membership.objects.create(organization=world.other_org, user=user, role=Role.ADMIN)
    assert post_to_acs(client, idp_page(client)).status_code == 302
    switch = client.post(reverse("switch_organization"), {"organization": world.other_org.pk})
    assert switch.status_code == 404  # Acme's IdP vouches for Acme, not for Globex
    assert client.get(reverse("tickets:list")).context["request"].organization == sso_org


def test_a_tampered_assertion_is_refused(client, sso_org, idp):
    page = idp_page(client)
    _action, fields = read_form(page)
    xml = decode(fields["SAMLResponse"])
    assert "nina.martin@acme-corp.test" in xml
    tampered = encode(xml.replace("nina.martin@acme-corp.test", "alice@acme.test"))  # Acme's Admin

    response = post_to_acs(client, page, saml_response=tampered)
    assert response.status_code == 403
    assert "La connexion SSO a échoué" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert last_failure(sso_org).startswith("SignatureError")
    assert not AuditLog.objects.filter(action="signin.sso").exists()


def test_a_replayed_response_is_refused(client, sso_org, idp):
    page = idp_page(client)
    assert post_to_acs(client, page).status_code == 302
    client.logout()
    client.session.save()  # the browser has a session again (not a cookieless cross-site post)

    # Straight replay: the request it answered was used up.
    assert post_to_acs(client, page).status_code == 403
    assert "InResponseTo" in last_failure(sso_org) or "unsolicited" in last_failure(sso_org)

    # Even with the same request ID outstanding in the session again, the assertion ID was used.
    _action, fields = read_form(page)
    request_id = decode(fields["SAMLResponse"]).split('InResponseTo="', 1)[1].split('"', 1)[0]
    session = client.session
    session["lumiodesk_sso_requests"] = {str(sso_org.pk): {"id": request_id, "next": ""}}
    session.save()
    assert post_to_acs(client, page).status_code == 403
    assert last_failure(sso_org).startswith("replayed assertion")
    assert UsedSamlAssertion.objects.filter(organization=sso_org).count() == 1


def test_a_response_for_another_audience_is_refused(client, sso_org, idp):
    idp.audience = "https://other-sp.example/metadata/"
    response = post_to_acs(client, idp_page(client))
    assert response.status_code == 403
    assert "udience" in last_failure(sso_org)
    assert "_auth_user_id" not in client.session


def test_an_expired_assertion_is_refused(client, sso_org, idp, settings, monkeypatch):
    settings.SSO_ACCEPTED_CLOCK_SKEW = 0
    idp.lifetime = {"seconds": 1}
    page = idp_page(client)
    # The assertion reaches us 3 s later, by pysaml2's clock (the one its lifetime checks read), instead of a
    # 2.1 s sleep: the IdP has already signed it, only our side's validation runs from here.
    real_now = saml2.time_util.utc_now
    monkeypatch.setattr(saml2.time_util, "utc_now", lambda: real_now() + 3)
    response = post_to_acs(client, page)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert last_failure(sso_org).startswith("ResponseLifetimeExceed")


def test_an_unsigned_assertion_is_refused(client, sso_org, idp):
    idp.sign_assertion = False
    assert post_to_acs(client, idp_page(client)).status_code == 403
    assert "_auth_user_id" not in client.session
    assert last_failure(sso_org) == "SignatureError: Signature missing for assertion"


def test_a_response_without_a_request_of_this_browser_is_refused(client, sso_org, idp):
    page = idp_page(client)
    other_browser = client.__class__()
    other_browser.cookies["sessionid"] = "x"  # a session of its own (not the trampoline)
    assert post_to_acs(other_browser, page).status_code == 403
    assert "unsolicited" in last_failure(sso_org)


def test_a_cross_site_post_without_our_cookie_is_posted_again_from_our_page(client, sso_org, idp):
    page = idp_page(client)
    _action, fields = read_form(page)
    cookieless = client.__class__()
    response = cookieless.post(reverse("sso:acs", args=["acme"]), fields)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="lumiodesk_resubmitted"' in html and fields["SAMLResponse"] in html
    assert "_auth_user_id" not in cookieless.session


def test_a_plan_without_sso_is_refused_with_a_clear_403(client, sso_org, idp):
    sso_org.plan = Plan.STARTER
    sso_org.save(update_fields=["plan"])
    response = client.get(reverse("sso:login", args=["acme"]))
    assert response.status_code == 403
    assert "SSO SAML n&#x27;est pas inclus dans le forfait Starter" in response.content.decode()
    with pytest.raises(FeatureNotAvailable):
        services.save_config(actor=acting(sso_org_admin(sso_org)), is_enabled=True, metadata_xml=idp.metadata())
    client.force_login(sso_org_admin(sso_org))
    page = client.get(reverse("sso:settings"))
    assert page.status_code == 200 and "disponible sur : Business, Scale" in page.content.decode()
    assert 'name="metadata_xml"' not in page.content.decode()  # nothing to fill on this plan
    assert client.post(reverse("sso:settings"), {"default_role": "agent", "is_enabled": "on"}).status_code == 400
    assert SsoConfig.objects.get(organization=sso_org).is_enabled  # unchanged: the refusal saved nothing


def sso_org_admin(org):
    return Membership.objects.get(organization=org, role=Role.ADMIN).user


def test_sso_only_refuses_an_agents_password_but_an_admin_keeps_hers(client, sso_org, world, idp):
    config = SsoConfig.objects.get(organization=sso_org)
    config.sso_only = True
    config.save()

    response = client.post(reverse("login"), {"username": world.agent.email, "password": "secret-pass-123"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme impose la connexion par SSO" in html
    assert reverse("sso:login", args=["acme"]) in html
    assert "_auth_user_id" not in client.session
    assert AuditLog.objects.filter(organization=sso_org, action="signin.password_refused_sso_only",
                                   target_id=world.agent.pk).exists()

    # Break-glass: an Admin always signs in with her password.
    response = client.post(reverse("login"), {"username": world.admin.email, "password": "secret-pass-123"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(world.admin.pk)

    # SSO off (or a plan without it): passwords work again.
    client.logout()
    config.is_enabled = False
    config.save()
    response = client.post(reverse("login"), {"username": world.agent.email, "password": "secret-pass-123"})
    assert response.status_code == 302


def test_existing_accounts_are_never_attached_and_jit_can_be_off(client, sso_org, world, idp):
    get_user_model().objects.create_user(username="nina.martin@acme-corp.test", email="nina.martin@acme-corp.test",
                                         password="secret-pass-123")
    response = post_to_acs(client, idp_page(client))
    assert response.status_code == 403 and "demandez une invitation" in response.content.decode()
    assert not Membership.objects.filter(user__email="nina.martin@acme-corp.test").exists()

    SsoConfig.objects.filter(organization=sso_org).update(jit_enabled=False)
    idp.user = {**idp.user, "mail": "new.person@acme-corp.test"}
    assert post_to_acs(client, idp_page(client)).status_code == 403
    assert not get_user_model().objects.filter(email="new.person@acme-corp.test").exists()

    idp.user = {**idp.user, "mail": "someone@elsewhere.test"}  # outside the allowed domains
    assert post_to_acs(client, idp_page(client)).status_code == 403
    assert "domain" in last_failure(sso_org)


def test_an_existing_member_signs_in_with_the_mapped_attribute(client, sso_org, world, idp):
    SsoConfig.objects.filter(organization=sso_org).update(email_attribute="uid", email_domains="")
    idp.user = {**idp.user, "uid": world.agent.email}
    assert post_to_acs(client, idp_page(client)).status_code == 302
    assert client.session["_auth_user_id"] == str(world.agent.pk)


def test_settings_screen_saves_metadata_from_a_url_through_the_outbound_guard(client, world, idp, settings):
    world.org.plan = Plan.SCALE
    world.org.save(update_fields=["plan"])
    client.force_login(world.admin)
    url = reverse("sso:settings")
    page = client.get(url).content.decode()
    assert saml.acs_url("acme") in page and saml.sp_entity_id("acme") in page
    assert "Les Admins gardent toujours leur mot de passe" in page

    form = {"metadata_url": idp.metadata_url, "is_enabled": "on", "jit_enabled": "on", "default_role": "viewer"}
    refused = client.post(url, form)  # loopback: refused by the SSRF guard
    assert refused.status_code == 400 and "Cette adresse est refusée" in refused.content.decode()
    assert not SsoConfig.objects.filter(organization=world.org).exists()

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # a self-hosted install allowing its own network
    assert client.post(url, form).status_code == 302
    config = SsoConfig.objects.get(organization=world.org)
    assert config.idp_entity_id == idp.entity_id and config.default_role == "viewer" and config.is_enabled
    assert AuditLog.objects.filter(organization=world.org, action="sso.updated").exists()
    fetches = idp.metadata_fetches
    assert client.post(url, form).status_code == 302  # the same URL: the stored metadata is kept
    assert idp.metadata_fetches == fetches
    assert client.post(url, {**form, "refresh_metadata": "on"}).status_code == 302
    assert idp.metadata_fetches == fetches + 1

    broken = client.post(url, {**form, "metadata_xml": "<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"})
    assert broken.status_code == 400 and "XML" in broken.content.decode()

    client.force_login(world.manager)
    assert client.get(url).status_code == 403


def test_metadata_fetch_is_size_limited(idp, settings, monkeypatch):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    monkeypatch.setattr(services, "METADATA_MAX_BYTES", 100)
    with pytest.raises(InvalidInput, match="1 Mo"):
        services.fetch_metadata(idp.metadata_url)


def test_the_chooser_finds_the_organization_by_identifier_or_email_domain(client, sso_org):
    response = client.post(reverse("sso:choose"), {"identifier": "acme"})
    assert response.status_code == 302 and response["Location"] == reverse("sso:login", args=["acme"])
    response = client.post(reverse("sso:choose"), {"identifier": "nina@acme-corp.test", "next": "/kb/?q=a&b=c"})
    assert response["Location"] == reverse("sso:login", args=["acme"]) + "?next=%2Fkb%2F%3Fq%3Da%26b%3Dc"
    response = client.post(reverse("sso:choose"), {"identifier": "acme", "next": "https://evil.example/"})
    assert response["Location"] == reverse("sso:login", args=["acme"])
    response = client.post(reverse("sso:choose"), {"identifier": "nobody@unknown.test"})
    assert response.status_code == 400
    assert "Se connecter avec SSO" in client.get(reverse("login")).content.decode()


def test_sp_metadata_names_our_acs(client, sso_org):
    response = client.get(reverse("sso:metadata", args=["acme"]))
    assert response.status_code == 200
    xml = response.content.decode()
    assert saml.acs_url("acme") in xml and saml.sp_entity_id("acme") in xml


def test_the_acs_is_rate_limited(client, sso_org):
    statuses = [client.post(reverse("sso:acs", args=["acme"]), {"SAMLResponse": "x"}).status_code
                for _ in range(22)]
    assert statuses[0] == 200 and statuses[-1] == 429  # the cookieless first posts get the trampoline
