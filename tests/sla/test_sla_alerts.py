"""The SLA scan: warnings before the due time, breach notices, once per ticket and due time, never
outside opening hours for non-urgent tickets, and who is told."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import SYSTEM, TicketFactory, acting, member

from lumiodesk import notifications
from lumiodesk.models import AgentNotification, NotificationPreference, Role
from sla import alerts
from sla.models import BusinessHours, SlaAlert, SlaOutcome
from tickets import services
from tickets.models import MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def scan(at: datetime) -> dict:
    return alerts.run_scan(now=at)


def kinds(ticket) -> list[str]:
    return list(SlaAlert.objects.filter(ticket=ticket).order_by("created_at", "id").values_list("kind", flat=True))


@pytest.mark.parametrize(
    "priority, warn, due, told",
    [
        ("urgent", paris(2025, 3, 10, 10, 15), paris(2025, 3, 10, 10, 30), paris(2025, 3, 10, 10, 30)),  # 15 min
        ("high", paris(2025, 3, 10, 11), paris(2025, 3, 10, 12), paris(2025, 3, 10, 12)),  # 1 h before
        # 4 h before; due at closing time: the breach is told when the organization opens again.
        ("normal", paris(2025, 3, 10, 14), paris(2025, 3, 10, 18), paris(2025, 3, 11, 9)),
        ("low", paris(2025, 3, 11, 16), paris(2025, 3, 12, 16), paris(2025, 3, 12, 16)),  # 1 business day before
    ],
)
def test_a_warning_then_a_breach_notice_each_once(clock, world, priority, warn, due, told):
    Ticket.objects.exclude(organization=world.org).delete()
    Ticket.objects.filter(pk=world.ticket.pk).delete()
    ticket = TicketFactory(organization=world.org, priority=priority, assignee=world.agent)
    assert scan(warn - timedelta(minutes=1))["warnings"] == 0
    assert scan(warn)["warnings"] == 1
    assert scan(warn + timedelta(minutes=1))["warnings"] == 0  # once
    assert kinds(ticket) == ["first_response_warning"]
    assert scan(told)["breaches"] == 1
    assert scan(told + timedelta(minutes=5)) == {"tickets": 0, "warnings": 0, "breaches": 0, "deferred": 0,
                                                "notifications": 0}
    assert kinds(ticket) == ["first_response_warning", "first_response_breach"]
    assert SlaAlert.objects.get(ticket=ticket, kind="first_response_breach").due_at == due
    outcome = SlaOutcome.objects.get(ticket=ticket, metric="first_response")
    assert outcome.breached and outcome.achieved_at is None


def test_the_warning_tells_the_assignee_and_the_breach_also_the_managers(clock, world):
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    ticket = TicketFactory(organization=world.org, priority="high", assignee=world.agent)
    scan(paris(2025, 3, 10, 11))
    [warning] = AgentNotification.objects.filter(kind="sla_warning")
    assert warning.recipient == world.agent
    assert warning.title == f"SLA bientôt dépassé : #{ticket.number} {ticket.subject}"
    assert warning.body == ("Première réponse attendue avant le 10/03/2025 12:00 (reste 1 h ouvrées). "
                            "Priorité : Haute.")
    assert warning.url == f"/tickets/{ticket.number}/"
    assert (warning.in_app, warning.email) == (True, True)
    scan(paris(2025, 3, 10, 12))
    breach = AgentNotification.objects.filter(kind="sla_breach")
    assert {n.recipient for n in breach} == {world.agent, world.admin, world.manager}
    assert world.viewer not in {n.recipient for n in AgentNotification.objects.all()}
    assert not AgentNotification.objects.filter(organization=world.other_org).exists()


def test_an_unassigned_ticket_warns_everyone_who_works_tickets(clock, world):
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    TicketFactory(organization=world.org, priority="urgent")
    scan(paris(2025, 3, 10, 10, 15))
    recipients = set(AgentNotification.objects.filter(kind="sla_warning").values_list("recipient_id", flat=True))
    assert recipients == {world.admin.pk, world.manager.pk, world.agent.pk}


def test_a_reply_stops_the_first_response_alerts(clock, world):
    """The peers' bug: escalating although an agent replied."""
    ticket = TicketFactory(organization=world.org, priority="high", assignee=world.agent)
    clock.set(paris(2025, 3, 10, 10, 50))
    services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Bonjour", actor=acting(world.agent))
    scan(paris(2025, 3, 10, 11))
    scan(paris(2025, 3, 10, 12, 30))
    assert kinds(ticket) == []
    assert Ticket.objects.get(pk=ticket.pk).sla_next_alert_at == paris(2025, 3, 11, 9)  # the resolution warning


def test_no_alert_once_resolved_nor_while_waiting_on_the_customer(clock, world):
    """The peers' bug: clocks that keep running after resolution."""
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    resolved = TicketFactory(organization=world.org, priority="urgent")
    waiting = TicketFactory(organization=world.org, priority="urgent")
    services.add_message(ticket=resolved, kind=MessageKind.REPLY, body="Réglé", actor=acting(world.agent),
                         then_status=Status.RESOLVED)
    services.add_message(ticket=waiting, kind=MessageKind.REPLY, body="Pouvez-vous préciser ?",
                         actor=acting(world.agent), then_status=Status.WAITING_CUSTOMER)
    for hours in range(0, 80, 3):
        scan(paris(2025, 3, 10, 10) + timedelta(hours=hours))
    assert SlaAlert.objects.count() == 0
    assert AgentNotification.objects.count() == 0


def test_imported_tickets_are_never_alerted(clock, world):
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.customer, subject="Ancien", body="x",
                           priority="urgent", imported=True, created_at=paris(2025, 3, 10, 9))
    scan(paris(2025, 3, 20, 12))
    assert SlaAlert.objects.count() == 0


def test_non_urgent_alerts_wait_for_the_next_opening(clock, world):
    """The peers' bug: escalation mails at midnight and at weekends despite Monday–Friday hours."""
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    clock.set(paris(2025, 3, 14, 16))  # Friday 16:00, normal: first response due Monday 15:00
    ticket = TicketFactory(organization=world.org, priority="normal", assignee=world.agent)
    assert Ticket.objects.get(pk=ticket.pk).first_response_due_at == paris(2025, 3, 17, 15)
    clock.set(paris(2025, 3, 14, 17))
    # Warned on Monday at 11:00 (4 business hours before): nothing over the weekend.
    for instant in (paris(2025, 3, 14, 20), paris(2025, 3, 15, 3), paris(2025, 3, 16, 23, 59)):
        scan(instant)
    assert kinds(ticket) == []
    scan(paris(2025, 3, 17, 11))
    assert kinds(ticket) == ["first_response_warning"]


def test_a_breach_at_closing_time_is_told_the_next_morning(clock, world):
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    ticket = TicketFactory(organization=world.org, priority="normal", assignee=world.agent)  # due 18:00
    scan(paris(2025, 3, 10, 14))
    totals = scan(paris(2025, 3, 10, 18, 1))  # closed: deferred
    assert totals["deferred"] == 1 and kinds(ticket) == ["first_response_warning"]
    assert Ticket.objects.get(pk=ticket.pk).sla_next_alert_at == paris(2025, 3, 11, 9)
    assert SlaOutcome.objects.get(ticket=ticket, metric="first_response").breached  # recorded at once
    scan(paris(2025, 3, 11, 2))
    assert kinds(ticket) == ["first_response_warning"]
    scan(paris(2025, 3, 11, 9))
    assert kinds(ticket) == ["first_response_warning", "first_response_breach"]
    assert AgentNotification.objects.filter(kind="sla_breach").first().created_at == paris(2025, 3, 11, 9)


def test_a_warning_not_sent_before_the_due_time_gives_way_to_the_breach_notice(clock, world):
    BusinessHours.objects.filter(organization=world.org, weekday=1).update(is_open=False)  # closed on Tuesday
    clock.set(paris(2025, 3, 10, 17, 50))
    ticket = TicketFactory(organization=world.org, priority="high", assignee=world.agent)
    # Due Wednesday 10:50 (10 min on Monday, Tuesday closed), warned at 09:50; the scan runs only at 11:00.
    assert Ticket.objects.get(pk=ticket.pk).first_response_due_at == paris(2025, 3, 12, 10, 50)
    scan(paris(2025, 3, 12, 11))
    assert kinds(ticket) == ["first_response_breach"]


def test_urgent_alerts_go_out_after_closing_time(clock, world):
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    clock.set(paris(2025, 3, 10, 17, 30))
    urgent = TicketFactory(organization=world.org, priority="urgent", assignee=world.agent)  # due 18:00
    clock.set(paris(2025, 3, 10, 14))
    normal = TicketFactory(organization=world.org, priority="normal", assignee=world.agent)  # due Tuesday 13:00
    Ticket.objects.filter(pk=normal.pk).update(first_response_due_at=paris(2025, 3, 10, 18),
                                               sla_next_alert_at=paris(2025, 3, 10, 18))
    scan(paris(2025, 3, 10, 18, 1))
    assert kinds(urgent) == ["first_response_breach"]
    assert kinds(normal) == []
    assert Ticket.objects.get(pk=normal.pk).sla_next_alert_at == paris(2025, 3, 11, 9)


def test_a_new_due_time_is_a_new_alert(clock, world):
    ticket = TicketFactory(organization=world.org, priority="normal", assignee=world.agent)
    scan(paris(2025, 3, 10, 14))
    clock.set(paris(2025, 3, 10, 14, 5))
    services.set_priority(ticket=ticket, priority="high", actor=acting(world.manager))  # due 12:00: already past
    scan(paris(2025, 3, 10, 14, 6))
    assert kinds(ticket) == ["first_response_warning", "first_response_breach"]
    assert sorted(SlaAlert.objects.filter(ticket=ticket).values_list("due_at", flat=True)) == [
        paris(2025, 3, 10, 12), paris(2025, 3, 10, 18)]


def test_preferences_decide_the_channels(clock, world, django_capture_on_commit_callbacks, queued_tasks):
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    NotificationPreference.objects.create(organization=world.org, user=world.agent, kind="sla_warning",
                                          in_app=True, email=False)
    NotificationPreference.objects.create(organization=world.org, user=world.manager, kind="sla_breach",
                                          in_app=False, email=False)
    TicketFactory(organization=world.org, priority="high", assignee=world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        scan(paris(2025, 3, 10, 11))
    [warning] = AgentNotification.objects.filter(kind="sla_warning")
    assert (warning.in_app, warning.email) == (True, False)
    assert queued_tasks == []
    with django_capture_on_commit_callbacks(execute=True):
        scan(paris(2025, 3, 10, 12))
    breach = {n.recipient: n for n in AgentNotification.objects.filter(kind="sla_breach")}
    assert world.manager not in breach
    assert {args[0] for name, args, _k in queued_tasks} == {n.pk for n in breach.values()}


def test_the_scan_costs_the_same_for_10_and_100_due_tickets(clock, world):
    def run(n):
        SlaAlert.objects.all().delete()
        AgentNotification.objects.all().delete()
        Ticket.objects.all().delete()
        for _ in range(n):
            TicketFactory(organization=world.org, priority="urgent", assignee=world.agent, customer=world.customer)
        with CaptureQueriesContext(connection) as ctx:
            totals = scan(paris(2025, 3, 10, 10, 15))
        assert totals["warnings"] == n
        return len(ctx.captured_queries)

    assert run(10) == run(100)


def test_notify_is_idempotent_per_event(world):
    draft = notifications.Draft(recipient_id=world.agent.pk, title="Titre", dedup_key="test:1")
    assert len(notifications.notify(organization_id=world.org.pk, kind="sla_warning", drafts=[draft])) == 1
    assert notifications.notify(organization_id=world.org.pk, kind="sla_warning", drafts=[draft]) == []
    assert AgentNotification.objects.count() == 1


def test_muted_creates_nothing(world):
    draft = notifications.Draft(recipient_id=world.agent.pk, title="Titre", dedup_key="test:2")
    with notifications.muted():
        assert notifications.notify(organization_id=world.org.pk, kind="urgent", drafts=[draft]) == []
    assert not AgentNotification.objects.exists()


def test_a_member_who_left_is_not_told(clock, world):
    Ticket.objects.filter(pk__in=[world.ticket.pk, world.other_ticket.pk]).delete()
    leaver = member(world.org, Role.AGENT)
    TicketFactory(organization=world.org, priority="urgent", assignee=leaver)
    leaver.memberships.update(is_active=False)
    scan(paris(2025, 3, 10, 10, 15))
    recipients = set(AgentNotification.objects.values_list("recipient_id", flat=True))
    assert leaver.pk not in recipients
    assert recipients == {world.admin.pk, world.manager.pk, world.agent.pk}  # unassigned in effect
