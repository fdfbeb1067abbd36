"""The audit log screen (Admins, Managers read-only), its filters, the client's address on each row, sign-ins,
and the daily purge per plan retention (lumiodesk.audit)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from account_helpers import fresh_rate_limits
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lumiodesk import audit, team
from lumiodesk.models import AuditLog, Plan
from lumiodesk.tasks import purge_audit_log


@pytest.fixture(autouse=True)
def _own_rate_limits(monkeypatch):
    fresh_rate_limits(monkeypatch)


def _rows(org, n: int, *, action: str = "view.created", actor=None, days_ago: int = 0) -> None:
    rows = AuditLog.objects.bulk_create([
        AuditLog(organization=org, actor=actor, action=action, target_type="view", target_id=i, data={"name": f"v{i}"})
        for i in range(n)
    ])
    if days_ago:
        AuditLog.objects.filter(pk__in=[r.pk for r in rows]).update(
            created_at=timezone.now() - timedelta(days=days_ago))


@pytest.mark.django_db
def test_admins_and_managers_read_the_log_agents_and_viewers_do_not(client, world):
    _rows(world.org, 2, actor=world.admin)
    _rows(world.other_org, 1, action="secret.globex")
    for person, status in ((world.admin, 200), (world.manager, 200), (world.agent, 403), (world.viewer, 403)):
        client.force_login(person)
        response = client.get(reverse("audit_log"))
        assert response.status_code == status, person
    client.force_login(world.manager)
    html = client.get(reverse("audit_log")).content.decode()
    assert "Vue partagée créée" in html and "secret.globex" not in html  # a human label; never another org's


@pytest.mark.django_db
def test_rows_carry_the_request_ip_and_sign_ins_and_failures_are_recorded(client, world):
    client.post(reverse("login"), {"username": world.agent.email, "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    client.post(reverse("login"), {"username": world.agent.email, "password": "secret-pass-123"},
                REMOTE_ADDR="203.0.113.9")
    failed = AuditLog.objects.get(organization=world.org, action="signin.failed")
    ok = AuditLog.objects.get(organization=world.org, action="signin.succeeded")
    assert failed.ip_address == ok.ip_address == "203.0.113.9" and ok.actor_id == world.agent.pk

    client.force_login(world.admin)
    client.post(reverse("team_invite"), {"email": "new@acme.test", "role": "agent"}, REMOTE_ADDR="198.51.100.4")
    assert AuditLog.objects.get(organization=world.org, action="invitation.sent").ip_address == "198.51.100.4"

    team.revoke_invitation(actor=team.MemberActor.of(world.org, world.admin),
                           invitation_id=AuditLog.objects.get(action="invitation.sent").target_id)
    assert AuditLog.objects.get(organization=world.org, action="invitation.revoked").ip_address is None  # no request


@pytest.mark.django_db
def test_filters_action_actor_dates_in_the_org_time_zone_and_search(client, world):
    _rows(world.org, 3, action="view.created", actor=world.manager)
    _rows(world.org, 2, action="template.saved", actor=world.admin)
    _rows(world.org, 4, action="view.deleted", actor=world.admin, days_ago=10)
    AuditLog.objects.create(organization=world.org, action="mailbox.created", target_type="mailbox", target_id=1,
                            data={"address": "support@acme.test"}, ip_address="192.0.2.55")
    client.force_login(world.admin)

    def count(**params) -> int:
        response = client.get(reverse("audit_log"), params)
        assert response.status_code == 200
        return response.context["page"].paginator.count

    assert count(action="view.created") == 3
    assert count(actor=world.manager.pk) == 3
    assert count(actor=world.admin.pk, action="view.deleted") == 4
    total = AuditLog.objects.filter(organization=world.org).count()
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(world.org.time_zone))
    assert count(start=(today - timedelta(days=1)).isoformat()) == total - 4
    assert count(end=(today - timedelta(days=5)).isoformat()) == 4
    assert count(q="support@acme") == 1
    assert count(q="192.0.2") == 1
    assert count(start="not-a-date") == total  # invalid filters are ignored, the page still answers


@pytest.mark.django_db
def test_the_log_runs_the_same_queries_for_10_and_100_rows_and_pages_by_50(client, world):
    client.force_login(world.admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("audit_log")).status_code == 200
        return len(ctx.captured_queries)

    _rows(world.org, 10, actor=world.manager)
    queries()  # the first page of a session also fills the subscription's cached state (billing.subscriptions)
    few = queries()
    _rows(world.org, 90, actor=world.admin)
    assert queries() == few
    response = client.get(reverse("audit_log"), {"page": 2})
    assert len(response.context["entries"]) == 50


@pytest.mark.django_db
def test_the_daily_purge_keeps_each_plans_retention_in_batches(world):
    world.org.plan = Plan.STARTER  # 30 days
    world.org.save(update_fields=["plan"])
    world.other_org.plan = Plan.SCALE  # 365 days
    world.other_org.save(update_fields=["plan"])
    _rows(world.org, 7, days_ago=31)
    _rows(world.org, 2, days_ago=29)
    _rows(world.other_org, 3, days_ago=200)
    _rows(world.other_org, 1, days_ago=366)
    assert audit.purge_expired(batch=3) == 8
    assert AuditLog.objects.filter(organization=world.org, action="view.created").count() == 2
    assert AuditLog.objects.filter(organization=world.other_org, action="view.created").count() == 3
    assert purge_audit_log() == 0  # the beat task, safe to run twice
    assert settings.CELERY_BEAT_SCHEDULE["audit-log-purge"]["task"] == purge_audit_log.name  # daily
