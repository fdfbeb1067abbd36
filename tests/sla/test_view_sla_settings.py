"""Settings > Hours and SLA: opening hours, holidays (and iCalendar import), policies, preview."""

from datetime import date, time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from factories import UserFactory
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx

from lumiodesk.models import AuditLog
from sla.models import BusinessHours, Holiday, SlaPolicy, SlaSettings

pytestmark = pytest.mark.django_db

URL = reverse("sla:settings")


def hours_post(**changes):
    data = {}
    for d in range(7):
        data[f"open_{d}"] = "on" if d < 5 else ""
        data[f"opens_{d}"] = "09:00"
        data[f"closes_{d}"] = "18:00"
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def policies_post(**changes):
    data = {"pause_when_waiting_customer": "on"}
    for p, (fa, fu, ra, ru) in {"low": (24, "hours", 5, "days"), "normal": (8, "hours", 3, "days"),
                                "high": (2, "hours", 1, "days"), "urgent": (30, "minutes", 4, "hours")}.items():
        data.update({f"fr_amount_{p}": fa, f"fr_unit_{p}": fu, f"res_amount_{p}": ra, f"res_unit_{p}": ru})
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


# --- who may -------------------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.get(URL), URL)
    assert_login_redirect(client.post(reverse("sla:hours"), hours_post()), reverse("sla:hours"))


@pytest.mark.parametrize("who", ["agent", "viewer"])
def test_agents_and_viewers_are_refused(client, world, who):
    client.force_login(getattr(world, who))
    assert client.get(URL).status_code == 403
    assert client.post(reverse("sla:hours"), hours_post()).status_code == 403
    assert client.post(reverse("sla:holiday_add"), {"date": "2025-05-01"}).status_code == 403
    assert client.post(reverse("sla:policies"), policies_post()).status_code == 403
    assert client.get(reverse("sla:preview"), {"priority": "high", "created": "2025-03-10T17:30"}).status_code == 403
    assert not Holiday.objects.exists()


def test_a_user_without_organization_is_refused(client, world):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_admins_and_managers_see_the_page(client, world, who):
    client.force_login(getattr(world, who))
    response = client.get(URL)
    html = assert_full_page(response)
    assert "Horaires d'ouverture" in html
    assert "Europe/Paris" in html
    assert 'value="09:00"' in html
    assert "Politiques SLA" in html


# --- hours ---------------------------------------------------------------------------------------------------


def test_saving_hours(client, world):
    client.force_login(world.manager)
    response = client.post(reverse("sla:hours"), hours_post(open_5="on", opens_5="10:00", closes_5="13:00",
                                                             closes_4="00:00"))
    assert response.status_code == 302
    rows = {h.weekday: h for h in BusinessHours.objects.filter(organization=world.org)}
    assert (rows[5].is_open, rows[5].opens, rows[5].closes) == (True, time(10), time(13))
    assert rows[4].closes == time(0)  # midnight
    assert not BusinessHours.objects.filter(organization=world.other_org, is_open=True, weekday=5).exists()
    assert AuditLog.objects.filter(action="sla.hours", organization=world.org).exists()


def test_saving_hours_with_htmx_returns_the_section(client, world):
    client.force_login(world.admin)
    response = client.post(reverse("sla:hours"), hours_post(opens_0="08:00"), **htmx())
    html = assert_partial(response)
    assert 'id="sla-hours"' in html and 'value="08:00"' in html
    assert "Horaires enregistrés" in html  # the flash, out of band
    assert 'hx-swap-oob="true"' in html


def test_refused_hours_say_why(client, world):
    client.force_login(world.admin)
    closed = {f"open_{d}": "" for d in range(7)}
    response = client.post(reverse("sla:hours"), hours_post(**closed), **htmx())
    assert response.status_code == 400
    assert "Ouvrez au moins un jour" in assert_partial(response)
    response = client.post(reverse("sla:hours"), hours_post(opens_2="18:00", closes_2="09:00"))
    assert response.status_code == 400
    assert "La fermeture doit suivre" in response.content.decode()
    assert BusinessHours.objects.get(organization=world.org, weekday=2).opens == time(9)


# --- holidays ------------------------------------------------------------------------------------------------


def test_adding_and_deleting_a_holiday(client, world):
    client.force_login(world.manager)
    response = client.post(reverse("sla:holiday_add"), {"date": "2025-05-01", "name": "Fête du travail"}, **htmx())
    html = assert_partial(response)
    assert "Fête du travail" in html
    holiday = Holiday.objects.get(organization=world.org)
    assert holiday.date == date(2025, 5, 1)
    response = client.post(reverse("sla:holiday_add"), {"date": "2025-05-01"}, **htmx())
    assert response.status_code == 400
    assert "déjà un jour férié" in response.content.decode()
    assert client.post(reverse("sla:holiday_delete", args=[holiday.pk])).status_code == 302
    assert not Holiday.objects.exists()


def test_another_organizations_holiday_is_404(client, world):
    theirs = Holiday.objects.create(organization=world.other_org, date=date(2025, 7, 14))
    client.force_login(world.admin)
    assert client.post(reverse("sla:holiday_delete", args=[theirs.pk])).status_code == 404
    assert Holiday.objects.filter(pk=theirs.pk).exists()


ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20260101\r
DTEND;VALUE=DATE:20260102\r
SUMMARY:Jour de l'an\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20261224\r
DTEND;VALUE=DATE:20261226\r
SUMMARY:No\\u00ebl et\r
  lendemain\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_importing_an_icalendar_file(client, world, clock):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    clock.set(datetime(2026, 1, 5, 10, tzinfo=ZoneInfo("Europe/Paris")))
    client.force_login(world.admin)
    upload = SimpleUploadedFile("feries.ics", ICS, content_type="text/calendar")
    response = client.post(reverse("sla:holiday_import"), {"file": upload}, **htmx())
    assert "3 jour(s) férié(s) importé(s)" in assert_partial(response)
    assert list(Holiday.objects.filter(organization=world.org).values_list("date", flat=True)) == [
        date(2026, 1, 1), date(2026, 12, 24), date(2026, 12, 25)]
    bad = SimpleUploadedFile("x.ics", b"hello", content_type="text/calendar")
    response = client.post(reverse("sla:holiday_import"), {"file": bad}, **htmx())
    assert response.status_code == 400
    assert "Import impossible" in response.content.decode()


# --- policies and preview ------------------------------------------------------------------------------------


def test_saving_policies_and_the_pause_setting(client, world):
    client.force_login(world.manager)
    post = policies_post(fr_amount_urgent="15", res_amount_high="2")
    del post["pause_when_waiting_customer"]
    response = client.post(reverse("sla:policies"), post, **htmx())
    assert "Politiques SLA enregistrées" in assert_partial(response)
    urgent = SlaPolicy.objects.get(organization=world.org, priority="urgent")
    assert (urgent.first_response_amount, urgent.first_response_unit) == (15, "minutes")
    assert SlaPolicy.objects.get(organization=world.org, priority="high").resolution_amount == 2
    assert SlaSettings.objects.get(organization=world.org).pause_when_waiting_customer is False
    assert SlaPolicy.objects.get(organization=world.other_org, priority="urgent").first_response_amount == 30


def test_invalid_policies_are_refused(client, world):
    client.force_login(world.manager)
    response = client.post(reverse("sla:policies"), policies_post(fr_amount_low="0", res_unit_low="weeks"))
    assert response.status_code == 400
    assert SlaPolicy.objects.get(organization=world.org, priority="low").first_response_amount == 24


def test_preview_uses_the_same_code_as_a_ticket(client, world):
    client.force_login(world.manager)
    response = client.get(reverse("sla:preview"), {"priority": "high", "created": "2025-03-10T17:30"}, **htmx())
    html = assert_partial(response)
    assert "11/03/2025 10:30" in html  # first response: 30 min on Monday + 1 h 30 on Tuesday
    assert "11/03/2025 17:30" in html  # resolution: 1 business day
    response = client.get(reverse("sla:preview"), {"priority": "high", "created": "2025-03-10T17:30"})
    assert "11/03/2025 10:30" in assert_full_page(response)
    response = client.get(reverse("sla:preview"), {"priority": "nope", "created": "x"}, **htmx())
    assert "Indiquez une priorité et une date" in assert_partial(response)
