"""The dashboard's weekly PDF report by email: opt-in per Manager, Monday from 08:00 local time, once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse
from factories import acting

from lumiodesk.exceptions import NotPermitted
from lumiodesk.models import AuditLog, Membership, Role
from sla.dashboard import weekly
from sla.models import DashboardReport, WeeklyReportSubscription

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
URL = reverse("sla:dashboard_weekly")


def test_managers_opt_in_from_the_dashboard(client, world):
    client.force_login(world.manager)
    assert "Recevoir ce rapport chaque lundi" in client.get(reverse("sla:dashboard")).content.decode()
    assert client.post(URL, {"enabled": "1"}).status_code == 302
    assert WeeklyReportSubscription.objects.filter(organization=world.org, user=world.manager).exists()
    assert AuditLog.objects.filter(action="dashboard.weekly_report", actor=world.manager).exists()
    assert "Ne plus recevoir" in client.get(reverse("sla:dashboard")).content.decode()
    client.post(URL, {"enabled": "0"})
    assert not WeeklyReportSubscription.objects.exists()
    client.force_login(world.viewer)
    assert client.post(URL, {"enabled": "1"}).status_code == 403
    with pytest.raises(NotPermitted):
        weekly.set_weekly_report(actor=acting(world.agent), organization=world.org, enabled=True)


def test_sent_on_monday_morning_once_with_last_weeks_pdf(clock, world):
    weekly.set_weekly_report(actor=acting(world.manager), organization=world.org, enabled=True)
    weekly.set_weekly_report(actor=acting(world.admin), organization=world.org, enabled=True)
    clock.set(datetime(2025, 3, 17, 7, 30, tzinfo=PARIS))  # Monday, before 08:00: last week was sent "before"
    weekly.send_weekly_reports()
    mail.outbox.clear()
    WeeklyReportSubscription.objects.update(last_sent_week=None)
    clock.set(datetime(2025, 3, 17, 8, 5, tzinfo=PARIS))
    assert weekly.send_weekly_reports() == 2
    assert weekly.send_weekly_reports() == 0  # once
    assert sorted(m.to[0] for m in mail.outbox) == sorted([world.manager.email, world.admin.email])
    message = mail.outbox[0]
    assert "10/03/2025 au 16/03/2025" in message.subject
    name, content, mimetype = message.attachments[0]
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    report = DashboardReport.objects.get(organization=world.org, start="2025-03-10")
    assert report.time_zone == "Europe/Paris" and report.end.isoformat() == "2025-03-16"
    assert report.data["opened"] == 1  # the world's ticket, created Monday 10 March


def test_a_member_who_lost_the_role_is_skipped(clock, world):
    weekly.set_weekly_report(actor=acting(world.manager), organization=world.org, enabled=True)
    Membership.objects.filter(organization=world.org, user=world.manager).update(role=Role.AGENT)
    clock.set(datetime(2025, 3, 17, 9, 0, tzinfo=PARIS))
    assert weekly.send_weekly_reports() == 0 and mail.outbox == []
