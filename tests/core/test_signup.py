"""Sign-up at /signup/: the organization, its first Admin, the "organization created" hooks, the verification
email and the refused sign-in until the address is verified (lumiodesk.accounts, lumiodesk.organizations)."""

from __future__ import annotations

import pytest
from account_helpers import fresh_rate_limits, link_in
from conftest import run_queued
from django.core import signing
from django.urls import reverse
from factories import OrganizationFactory, member

from lumiodesk import accounts, organizations
from lumiodesk.models import AuditLog, BusinessHours, Membership, Organization, Role, UnverifiedEmail
from sla.models import SlaPolicy
from tickets.models import Tag

FORM = {
    "company": "Boulangerie Martin", "first_name": "Léa", "last_name": "Martin", "email": "Lea@Martin.test",
    "password": "un-pain-au-chocolat-42", "time_zone": "America/Montreal", "language": "en", "website": "",
}


@pytest.fixture(autouse=True)
def _own_rate_limits(monkeypatch):
    fresh_rate_limits(monkeypatch)


@pytest.mark.django_db
def test_sign_up_creates_the_organization_its_admin_the_starter_tags_and_the_sla_defaults(
        client, queued_tasks, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("signup"), FORM)
    assert response.status_code == 302 and response["Location"] == reverse("signup_done")
    org = Organization.objects.get(name="Boulangerie Martin")
    assert (org.slug, org.time_zone, org.language) == ("boulangerie-martin", "America/Montreal", "en")
    admin = Membership.objects.select_related("user").get(organization=org)
    assert admin.role == Role.ADMIN and admin.user.email == "lea@martin.test" and admin.user.first_name == "Léa"
    assert admin.user.check_password(FORM["password"])
    assert sorted(Tag.objects.filter(organization=org).values_list("name", flat=True)) == [
        "bug", "facturation", "question-produit"]
    assert SlaPolicy.objects.filter(organization=org).count() == 4
    assert BusinessHours.objects.filter(organization=org, is_open=True).count() == 5
    assert AuditLog.objects.filter(organization=org, action="organization.created", actor=admin.user).exists()
    assert UnverifiedEmail.objects.filter(user=admin.user).exists()
    # The verification email leaves through the outbound task, after the commit.
    assert [name for name, _a, _k in queued_tasks] == ["lumiodesk.accounts.send_verification_email"]
    run_queued(queued_tasks)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["lea@martin.test"]
    assert "/signup/verify/" in mailoutbox[0].body
    assert "Confirm" in mailoutbox[0].subject  # in the organization's language (English here)


@pytest.mark.django_db
def test_sign_in_is_refused_until_the_address_is_verified_then_works(client, queued_tasks, mailoutbox,
                                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("signup"), FORM)
    run_queued(queued_tasks)
    login = {"username": "lea@martin.test", "password": FORM["password"]}
    response = client.post(reverse("login"), login)
    html = response.content.decode()
    assert response.status_code == 200 and "pas encore vérifiée" in html
    assert reverse("resend_verification") in html
    assert "_auth_user_id" not in client.session

    # Resend: a new email, and the same answer for an address that has no account.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("resend_verification"), {"email": "lea@martin.test"})
        client.post(reverse("resend_verification"), {"email": "nobody@martin.test"})
    run_queued(queued_tasks)
    assert len(mailoutbox) == 2

    link = link_in(mailoutbox[-1], "/signup/verify/")
    page = reverse("verify_email")
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == page  # the token leaves the address bar
    assert client.get(page).status_code == 200  # opening the link (a mail scanner) spends nothing
    assert UnverifiedEmail.objects.filter(user__email="lea@martin.test").exists()
    response = client.post(page)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not UnverifiedEmail.objects.filter(user__email="lea@martin.test").exists()
    client.get(link)
    assert client.post(page).status_code == 302  # a second use changes nothing

    response = client.post(reverse("login"), login)
    assert response.status_code == 302 and client.session["_auth_user_id"]
    org = Organization.objects.get(slug="boulangerie-martin")
    actions = set(AuditLog.objects.filter(organization=org).values_list("action", flat=True))
    assert {"account.verified", "signin.succeeded"} <= actions


@pytest.mark.django_db
def test_a_forged_or_expired_verification_link_is_refused(client, queued_tasks, settings):
    client.post(reverse("signup"), FORM)
    user = Membership.objects.get(organization__slug="boulangerie-martin").user
    token = accounts.verification_token(user)
    client.get(reverse("verify_email_link", args=[token[:-2] + "xx"]))
    assert client.get(reverse("verify_email")).status_code == 400
    expired = signing.dumps({"u": user.pk, "e": user.email}, salt=accounts.VERIFY_SALT, compress=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "VERIFY_LINK_DAYS", -1)
        client.get(reverse("verify_email_link", args=[expired]))
        response = client.post(reverse("verify_email"))
    assert response.status_code == 400 and "expiré" in response.content.decode()
    assert UnverifiedEmail.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_existing_accounts_count_as_verified(client):
    org = OrganizationFactory()
    member(org, Role.AGENT, email="old@acme.test")
    response = client.post(reverse("login"), {"username": "old@acme.test", "password": "secret-pass-123"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_clear_errors_weak_password_taken_email_unknown_time_zone(client):
    member(OrganizationFactory(), Role.AGENT, email="taken@martin.test")
    cases = [
        ({"password": "12345678"}, "trop courant"),
        ({"email": "TAKEN@martin.test"}, "existe déjà"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"language": "xx"}, "language"),
        ({"company": ""}, "company"),
    ]
    for change, expected in cases:
        response = client.post(reverse("signup"), {**FORM, **change})
        assert response.status_code == 400, change
        html = response.content.decode()
        assert expected in html or f'name="{expected}"' in html, change
    assert not Organization.objects.filter(name="Boulangerie Martin").exists()


@pytest.mark.django_db
def test_the_honeypot_creates_nothing_and_sign_ups_are_rate_limited(client):
    response = client.post(reverse("signup"), {**FORM, "website": "http://spam.example"})
    assert response.status_code == 302 and not Organization.objects.exists()
    for i in range(4):
        client.post(reverse("signup"), {**FORM, "email": f"x{i}@martin.test", "company": f"Shop {i}"})
    response = client.post(reverse("signup"), {**FORM, "email": "late@martin.test", "company": "Late"})
    assert response.status_code == 429 and "Trop de tentatives" in response.content.decode()
    assert Organization.objects.count() == 4


@pytest.mark.django_db
def test_slugs_are_unique_and_a_failing_hook_undoes_the_whole_sign_up(django_user_model):
    OrganizationFactory(slug="martin")
    first = accounts.sign_up(accounts.SignUp("Martin", "A", "", "a@m.test", "long-enough-pass-1", "UTC", "fr"))[0]
    assert first.slug == "martin-2"

    def broken(organization, admin_user):
        raise RuntimeError("billing is down")

    organizations.on_created(broken)
    try:
        with pytest.raises(RuntimeError):
            accounts.sign_up(accounts.SignUp("Martin", "B", "", "b@m.test", "long-enough-pass-1", "UTC", "fr"))
    finally:
        organizations._created_hooks.remove(broken)
    assert not django_user_model.objects.filter(email="b@m.test").exists()
    assert not Organization.objects.filter(slug="martin-3").exists()


@pytest.mark.django_db
def test_the_signup_page_fills_time_zone_and_language_from_the_browser(client):
    html = client.get(reverse("signup")).content.decode()
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in html and "navigator.language" in html
    assert 'name="website"' in html and 'aria-hidden="true"' in html
