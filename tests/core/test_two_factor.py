"""Issue 17: 2FA for every member (lumiodesk.two_factor), with real TOTP codes computed here from the device's key
(``django_otp.oath.totp``) and real recovery codes: enrolment by QR code, the sign-in's code step (password and
SAML SSO), recovery codes used once, regeneration, disabling with the password, the Admins' "mandatory" policy
sending members without a device to set it up at their next sign-in, rate limits and the audit trail.
"""

from __future__ import annotations

import re
import urllib.request

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from factories import acting
from helpers import HTMX
from sso_idp import read_form

from lumiodesk import two_factor
from lumiodesk.exceptions import NotPermitted
from lumiodesk.models import AuditLog, Plan
from lumiodesk.security_views import CODES_PER_USER
from lumiodesk.sso import saml
from lumiodesk.sso import services as sso_services

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"  # factories.UserFactory


def code_now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def code_next(device: TOTPDevice) -> str:
    """The code of the next 30-second step (within the tolerance): one the device has not used yet."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0 - device.step, digits=device.digits):06d}"


def enrol(client, user) -> tuple[TOTPDevice, list[str]]:
    """Through the Security page: start, scan (read the key), confirm with the app's code."""
    assert client.post(reverse("two_factor_enrol"), {"start": "1"}).status_code == 302
    page = client.get(reverse("two_factor_enrol"))
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("two_factor_enrol"), {"code": code_now(device)})
    assert response.status_code == 200, response.content[:500]
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", response.content.decode())
    device.refresh_from_db()
    return device, codes


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": email, "password": password})


def actions(org, user) -> list[str]:
    return list(AuditLog.objects.filter(organization=org, target_type="user", target_id=user.pk,
                                        action__startswith="two_factor.").order_by("id").values_list("action",
                                                                                                      flat=True))


def test_a_member_enables_2fa_by_scanning_the_qr_code_and_gets_ten_recovery_codes_once(client, world):
    client.force_login(world.agent)
    page = client.get(reverse("account_security"))
    assert page.status_code == 200 and "Désactivée" in page.content.decode()

    assert client.post(reverse("two_factor_enrol"), {"start": "1"}).status_code == 302
    enrol_page = client.get(reverse("two_factor_enrol")).content.decode()
    device = TOTPDevice.objects.get(user=world.agent, confirmed=False)
    assert "<svg" in enrol_page and "<?xml" not in enrol_page  # inline, drawn here: no image service
    assert "http" not in enrol_page.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")
    assert "otpauth://" not in enrol_page  # the URL is in the QR code only
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', enrol_page).group(1).replace(" ", "")
    assert secret == two_factor.secret_for_display(device).replace(" ", "")

    wrong = f"{(int(code_now(device)) + 1) % 1_000_000:06d}"
    refused = client.post(reverse("two_factor_enrol"), {"code": wrong})
    assert refused.status_code == 400 and "ne correspond pas" in refused.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed

    response = client.post(reverse("two_factor_enrol"), {"code": code_now(device)})
    assert response.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", response.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=world.agent).confirmed
    assert actions(world.org, world.agent) == ["two_factor.enabled"]

    page = client.get(reverse("account_security")).content.decode()
    assert "Activée" in page and "10 codes de secours" in page
    assert not any(code in page for code in codes)  # shown once only


def test_sign_in_asks_for_the_totp_after_the_password(client, world):
    client.force_login(world.admin)
    device, _codes = enrol(client, world.admin)
    client.logout()

    response = sign_in(client, world.admin.email)
    assert response.status_code == 302
    # Signed in with a password only: every page sends to the code step, HTMX requests too.
    held = client.get(reverse("tickets:list"))
    assert held.status_code == 302 and held["Location"].startswith(reverse("two_factor_verify"))
    assert "next=%2Ftickets%2F" in held["Location"]
    hx = client.get(reverse("tickets:list"), **HTMX)
    assert hx.status_code == 204 and hx["HX-Redirect"] == reverse("two_factor_verify")
    assert client.get(reverse("account_security")).status_code == 302
    page = client.get(reverse("two_factor_verify"))
    assert page.status_code == 200 and 'class="topbar"' not in page.content.decode()  # no console navigation

    wrong = f"{(int(code_next(device)) + 7) % 1_000_000:06d}"
    refused = client.post(reverse("two_factor_verify"), {"code": wrong})
    assert refused.status_code == 400 and "Code incorrect" in refused.content.decode()
    failed = AuditLog.objects.get(organization=world.org, action="two_factor.failed")
    assert failed.actor_id == world.admin.pk and failed.data == {"method": "totp"} and failed.ip_address

    session_before = client.session.session_key
    used = code_next(device)  # kept for the replay below: a new 30 s step in between would give another code
    ok = client.post(reverse("two_factor_verify"), {"code": used, "next": "/kb/"})
    assert ok.status_code == 302 and ok["Location"] == "/kb/"
    assert client.session.session_key != session_before  # a new session key once fully signed in
    signed = AuditLog.objects.filter(organization=world.org, action="signin.succeeded", actor=world.admin).latest("id")
    assert signed.data["two_factor"] == "verify"  # the password step's row says a code was still due
    assert actions(world.org, world.admin)[-1] == "two_factor.verified"
    assert client.get(reverse("tickets:list")).status_code == 200

    # The same code again (a replay, in another session) is refused: django-otp keeps the last step used.
    client.logout()
    sign_in(client, world.admin.email)
    assert client.post(reverse("two_factor_verify"), {"code": used}).status_code == 400


def test_a_recovery_code_signs_in_once(client, world):
    client.force_login(world.manager)
    _device, codes = enrol(client, world.manager)
    client.logout()

    sign_in(client, world.manager.email)
    assert client.post(reverse("two_factor_verify"), {"code": codes[3].upper()}).status_code == 302
    assert client.get(reverse("tickets:list")).status_code == 200
    assert StaticToken.objects.filter(device__user=world.manager).count() == 9
    used = AuditLog.objects.get(organization=world.org, action="two_factor.recovery_used")
    assert used.data == {"codes_left": 9}

    client.logout()
    sign_in(client, world.manager.email)
    again = client.post(reverse("two_factor_verify"), {"code": codes[3]})
    assert again.status_code == 400
    assert AuditLog.objects.filter(action="two_factor.failed", data__method="recovery").count() == 1


def test_regenerating_recovery_codes_voids_the_old_ones(client, world):
    client.force_login(world.agent)
    _device, old = enrol(client, world.agent)
    response = client.post(reverse("two_factor_codes"))
    new = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", response.content.decode())
    assert response.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    assert actions(world.org, world.agent) == ["two_factor.enabled", "two_factor.recovery_regenerated"]

    client.logout()
    sign_in(client, world.agent.email)
    assert client.post(reverse("two_factor_verify"), {"code": old[0]}).status_code == 400
    assert client.post(reverse("two_factor_verify"), {"code": new[0]}).status_code == 302


def test_disabling_asks_for_the_password(client, world):
    client.force_login(world.viewer)  # every member, the read-only Viewer too
    enrol(client, world.viewer)
    refused = client.post(reverse("two_factor_disable"), {"password": "not-it"})
    assert refused.status_code == 400 and "Mot de passe incorrect" in refused.content.decode()
    assert two_factor.is_enabled(world.viewer)

    assert client.post(reverse("two_factor_disable"), {"password": PASSWORD}).status_code == 302
    assert not two_factor.is_enabled(world.viewer)
    assert not StaticToken.objects.filter(device__user=world.viewer).exists()
    assert actions(world.org, world.viewer) == ["two_factor.enabled", "two_factor.disabled"]
    client.logout()
    sign_in(client, world.viewer.email)
    assert client.get(reverse("tickets:list")).status_code == 200  # no code asked any more


def test_code_attempts_are_rate_limited_per_account(client, world):
    client.force_login(world.agent)
    device, _codes = enrol(client, world.agent)
    client.logout()
    sign_in(client, world.agent.email)
    wrong = f"{(int(code_next(device)) + 3) % 1_000_000:06d}"
    for _i in range(CODES_PER_USER - 1):  # the enrolment's code counted as one attempt
        assert client.post(reverse("two_factor_verify"), {"code": wrong}).status_code == 400
    limited = client.post(reverse("two_factor_verify"), {"code": code_next(device)})
    assert limited.status_code == 429 and "Trop de codes" in limited.content.decode()
    assert int(limited["Retry-After"]) > 0
    assert client.get(reverse("tickets:list")).status_code == 302  # still held


def test_an_admin_makes_2fa_mandatory_and_members_set_it_up_at_next_sign_in(client, world):
    client.force_login(world.manager)
    assert client.post(reverse("two_factor_policy"), {"two_factor_required": "on"}).status_code == 403
    with pytest.raises(NotPermitted):
        two_factor.set_policy(actor=acting(world.manager), required=True)

    client.force_login(world.admin)
    page = client.get(reverse("sign_in_security")).content.decode()
    assert "2FA obligatoire pour tous les membres" in page and "4 membres ne l" in page
    assert client.post(reverse("two_factor_policy"), {"two_factor_required": "on"}).status_code == 302
    world.org.refresh_from_db()
    assert world.org.two_factor_required
    row = AuditLog.objects.get(organization=world.org, action="two_factor.policy_changed")
    assert row.actor_id == world.admin.pk
    assert (row.data["before"], row.data["after"]) == ({"two_factor_required": False}, {"two_factor_required": True})
    # The Admin's own session was opened before: it is sent at the next sign-in, like everyone else.
    assert client.get(reverse("tickets:list")).status_code == 200

    client.logout()
    sign_in(client, world.agent.email)
    held = client.get(reverse("tickets:list"))
    assert held.status_code == 302 and held["Location"] == reverse("account_security")
    signed = AuditLog.objects.filter(organization=world.org, action="signin.succeeded", actor=world.agent).latest("id")
    assert signed.data["two_factor"] == "setup"
    assert client.get(reverse("kb:list"), **HTMX)["HX-Redirect"] == reverse("account_security")
    page = client.get(reverse("account_security")).content.decode()
    assert "impose la double authentification" in page
    assert 'class="topbar"' not in page  # no console navigation, nor its polling badges (they would loop)
    assert reverse("logout") in page
    enrol(client, world.agent)
    assert client.get(reverse("tickets:list")).status_code == 200

    # Disabling while mandatory sends the session straight back to the set-up.
    client.post(reverse("two_factor_disable"), {"password": PASSWORD})
    assert client.get(reverse("tickets:list"))["Location"] == reverse("account_security")

    # Members of another organization are untouched.
    client.logout()
    sign_in(client, world.outsider.email)
    assert client.get(reverse("tickets:list")).status_code == 200


def test_turning_the_policy_off_is_audited_and_frees_the_next_sign_in(client, world):
    two_factor.set_policy(actor=acting(world.admin), required=True)
    two_factor.set_policy(actor=acting(world.admin), required=True)  # unchanged: no second row
    two_factor.set_policy(actor=acting(world.admin), required=False)
    assert AuditLog.objects.filter(organization=world.org, action="two_factor.policy_changed").count() == 2
    sign_in(client, world.agent.email)
    assert client.get(reverse("tickets:list")).status_code == 200


def test_sign_out_is_always_reachable_and_cancel_signs_out(client, world):
    client.force_login(world.agent)
    enrol(client, world.agent)
    client.logout()
    sign_in(client, world.agent.email)
    assert client.post(reverse("two_factor_verify"), {"cancel": "1"}).status_code == 302
    assert "_auth_user_id" not in client.session
    sign_in(client, world.agent.email)
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_code_page_without_a_pending_code(client, world):
    assert client.get(reverse("two_factor_verify"))["Location"] == reverse("login")
    client.force_login(world.agent)  # no 2FA: nothing to verify
    assert client.get(reverse("two_factor_verify"))["Location"] == reverse("tickets:list")


# --- SAML SSO is held for the code too -------------------------------------------------------------------------


@pytest.fixture
def idp(saml_idp_server):
    saml_idp_server.audience = None
    saml_idp_server.lifetime = {"minutes": 15}
    saml_idp_server.sign_assertion = True
    saml_idp_server.sp_metadata = [saml.sp_metadata("acme")]
    saml_idp_server.user = {"uid": "agathe", "mail": "agathe@acme.test", "displayName": "Agathe",
                            "givenName": "Agathe", "sn": "A"}
    return saml_idp_server


def test_an_sso_sign_in_is_held_for_the_code(client, world, idp):
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])
    sso_services.save_config(actor=acting(world.admin), is_enabled=True, metadata_xml=idp.metadata(),
                             email_domains="acme.test")
    client.force_login(world.agent)
    device, _codes = enrol(client, world.agent)
    client.logout()

    start = client.get(reverse("sso:login", args=["acme"]), {"next": "/kb/"})
    with urllib.request.urlopen(start["Location"], timeout=10) as answer:  # the real IdP, on loopback
        action, fields = read_form(answer.read().decode("utf-8"))
    response = client.post(action.removeprefix(saml.settings.SITE_URL), fields)
    assert response.status_code == 302 and response["Location"] == "/kb/"
    assert client.session["_auth_user_id"] == str(world.agent.pk)
    held = client.get("/kb/")
    assert held.status_code == 302 and held["Location"].startswith(reverse("two_factor_verify"))
    assert client.post(reverse("two_factor_verify"), {"code": code_next(device), "next": "/kb/"})["Location"] == "/kb/"
    assert client.get("/kb/").status_code == 200
