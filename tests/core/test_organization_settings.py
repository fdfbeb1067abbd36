"""Settings > Organization (lumiodesk.organizations.update_organization) and the agents' password reset."""

from __future__ import annotations

from datetime import date

import pytest
from account_helpers import fresh_rate_limits, link_in
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from factories import SYSTEM

from lumiodesk.models import AuditLog, Organization
from sla import reports

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
FORM = {"name": "Acme SAS", "time_zone": "America/Montreal", "language": "en", "auto_close_resolved_days": 5,
        "first_followup_days": 2, "second_followup_days": 4, "close_waiting_days": 6}


@pytest.fixture(autouse=True)
def _own_rate_limits(monkeypatch):
    fresh_rate_limits(monkeypatch)


@pytest.mark.django_db
def test_an_admin_changes_the_settings_audited_before_and_after(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.admin)
    html = client.get(reverse("organization_settings")).content.decode()
    assert 'value="7"' in html and 'value="3"' in html and "facturation" in html  # 000's defaults
    response = client.post(reverse("organization_settings"),
                           {**FORM, "logo_file": SimpleUploadedFile("logo.png", PNG, "image/png")})
    assert response.status_code == 302
    org = Organization.objects.get(pk=world.org.pk)
    assert (org.name, org.time_zone, org.language, org.auto_close_resolved_days, org.close_waiting_days) == (
        "Acme SAS", "America/Montreal", "en", 5, 6)
    assert org.logo.name.startswith("logos/acme")
    row = AuditLog.objects.get(organization=org, action="organization.updated")
    assert row.data["before"]["time_zone"] == "Europe/Paris" and row.data["after"]["time_zone"] == "America/Montreal"
    assert client.get(reverse("organization_logo")).status_code == 200
    client.force_login(world.manager)
    assert client.get(reverse("organization_settings")).status_code == 403


@pytest.mark.django_db
def test_automatic_mail_out_of_sla_is_on_by_default_and_can_be_turned_off(client, world):
    """Issue 22: tickets made from automatic mail run no SLA clock unless the organization says otherwise."""
    client.force_login(world.admin)
    html = client.get(reverse("organization_settings")).content.decode()
    assert 'id="id_automatic_mail_out_of_sla" checked' in html
    assert client.post(reverse("organization_settings"), FORM).status_code == 302  # the box left unticked
    org = Organization.objects.get(pk=world.org.pk)
    assert org.automatic_mail_out_of_sla is False
    row = AuditLog.objects.get(organization=org, action="organization.updated")
    assert (row.data["before"]["automatic_mail_out_of_sla"], row.data["after"]["automatic_mail_out_of_sla"]) == (
        True, False)
    client.post(reverse("organization_settings"), {**FORM, "automatic_mail_out_of_sla": "on"})
    assert Organization.objects.get(pk=world.org.pk).automatic_mail_out_of_sla is True


@pytest.mark.django_db
def test_wrong_values_are_refused_with_a_message_and_nothing_changes(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.admin)
    cases = [
        ({"first_followup_days": 5, "second_followup_days": 4}, "doit précéder"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"close_waiting_days": 0}, "1 à 365"),
        ({"logo_file": SimpleUploadedFile("x.svg", b"<svg onload=alert(1)>", "image/svg+xml")}, "PNG, JPEG"),
        ({"logo_file": SimpleUploadedFile("big.png", PNG + b"0" * 600_000, "image/png")}, "dépasse"),
    ]
    for change, expected in cases:
        response = client.post(reverse("organization_settings"), {**FORM, **change})
        assert response.status_code in (400, 302), change
        html = client.get(reverse("organization_settings")).content.decode() if response.status_code == 302 else (
            response.content.decode())
        assert expected in html, change
    org = Organization.objects.get(pk=world.org.pk)
    assert (org.name, org.time_zone, org.first_followup_days) == ("Acme", "Europe/Paris", 3)
    assert not org.logo


@pytest.mark.django_db
def test_sla_reports_keep_the_time_zone_they_were_made_in(client, world):
    report = reports.generate_report(organization=world.org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                                     granularity="week", actor=SYSTEM)
    client.force_login(world.admin)
    client.post(reverse("organization_settings"), FORM)
    report.refresh_from_db()
    assert report.time_zone == "Europe/Paris"


# --- password reset ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_password_reset_by_email_without_telling_who_has_an_account(client, world, mailoutbox):
    known = client.post(reverse("password_reset"), {"email": world.agent.email})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@acme.test"})
    assert known.status_code == unknown.status_code == 302 and known["Location"] == unknown["Location"]
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [world.agent.email]
    path = link_in(mailoutbox[0], "/password/reset/")
    response = client.get(path, follow=True)  # Django moves the token into the session
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "un-nouveau-depart-9", "new_password2": "un-nouveau-depart-9"})
    assert response.status_code == 302
    world.agent.refresh_from_db()
    assert world.agent.check_password("un-nouveau-depart-9")
    assert AuditLog.objects.filter(organization=world.org, action="password.reset", actor=world.agent).exists()
    assert client.get(path, follow=True).context["validlink"] is False  # single use


@pytest.mark.django_db
def test_password_reset_is_rate_limited(client, world, mailoutbox):
    for _ in range(5):
        client.post(reverse("password_reset"), {"email": world.agent.email})
    response = client.post(reverse("password_reset"), {"email": world.agent.email})
    assert response.status_code == 429 and len(mailoutbox) == 5
