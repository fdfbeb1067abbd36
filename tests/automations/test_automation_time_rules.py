"""Time rules ("still New after 2 business hours"): the scan, in business time, once per ticket and episode,
idempotent across scans and workers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from automation_helpers import rule
from django.db import connection
from factories import OrganizationFactory, TicketFactory, acting, member

from automations import services as automation_services
from automations.models import AutomationRule, AutomationRun, TimeRuleEpisode, Trigger
from automations.timerules import run_scan
from lumiodesk.models import AgentNotification, NotificationKind, Plan, Role
from tickets import services
from tickets.models import Message, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NEW_FOR_2H = {"field": "status_for", "status": "new", "amount": 2, "unit": "hours"}
NOTIFY_MANAGERS = {"type": "notify", "to": "managers"}


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def manager_notes() -> int:
    return AgentNotification.objects.filter(kind=NotificationKind.AUTOMATION).count()


def test_still_new_after_2_business_hours_fires_once(world, clock):
    rule(world.org, NEW_FOR_2H, actions=[NOTIFY_MANAGERS], name="Nouveau depuis 2 h")
    clock.set(paris(2025, 3, 7, 17, 0))  # Friday 17:00
    ticket = TicketFactory(organization=world.org, customer=world.customer, subject="Vendredi soir")
    assert not AutomationRun.objects.filter(ticket=ticket).exists()  # a time rule does not run on events

    clock.set(paris(2025, 3, 10, 9, 30))  # Monday 9:30: 1 h 30 of business time
    assert run_scan(now=clock.now)["matched"] == 0
    clock.set(paris(2025, 3, 10, 10, 0))  # Monday 10:00: 2 business hours (Friday 17-18, Monday 9-10)
    assert run_scan(now=clock.now)["matched"] == 1
    ticket_runs = AutomationRun.objects.filter(ticket=ticket)
    assert [(r.rule_name, r.trigger) for r in ticket_runs] == [("Nouveau depuis 2 h", Trigger.TIME)]
    notified = set(AgentNotification.objects.filter(kind=NotificationKind.AUTOMATION, url=f"/tickets/{ticket.number}/")
                   .values_list("recipient_id", flat=True))
    assert notified == {world.admin.pk, world.manager.pk}

    for hours in (0, 1, 30):  # later scans, and the same scan again: nothing more
        clock.set(paris(2025, 3, 10, 10, 0) + timedelta(hours=hours))
        assert run_scan(now=clock.now)["matched"] == 0
    assert AutomationRun.objects.filter(ticket=ticket).count() == 1


@pytest.fixture
def acme(clock):
    """An organization whose only ticket is created Monday 10 March 2025 at 10:00 (Paris)."""
    org = OrganizationFactory(name="Acme", plan=Plan.BUSINESS)
    admin = member(org, Role.ADMIN, first_name="Alice")
    manager = member(org, Role.MANAGER, first_name="Marc")
    agent = member(org, Role.AGENT, first_name="Agathe")
    return org, admin, manager, agent


def test_business_hours_skip_nights_and_weekends(acme, clock):
    org, *_ = acme
    rule(org, NEW_FOR_2H, actions=[NOTIFY_MANAGERS])
    clock.set(paris(2025, 3, 8, 11, 0))  # Saturday
    TicketFactory(organization=org)
    clock.set(paris(2025, 3, 10, 10, 59))
    assert run_scan(now=clock.now)["matched"] == 0
    clock.set(paris(2025, 3, 10, 11, 0))  # Monday 9:00 + 2 h
    assert run_scan(now=clock.now)["matched"] == 1


def test_a_new_stay_in_the_status_is_a_new_episode(acme, clock):
    org, _admin, _manager, agent = acme
    rule(org, {"field": "status_for", "status": "waiting_customer", "amount": 1, "unit": "days"},
         actions=[{"type": "add_note", "text": "Relancer le client par téléphone."}])
    ticket = TicketFactory(organization=org)
    services.change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=acting(agent))  # Monday 10:00
    clock.set(paris(2025, 3, 11, 10, 0))  # Tuesday 10:00: 1 business day
    assert run_scan(now=clock.now)["matched"] == 1
    assert run_scan(now=clock.now)["matched"] == 0

    services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Voici ma réponse.")  # back to open
    clock.set(paris(2025, 3, 11, 11, 0))
    services.change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=acting(agent))  # a second stay
    clock.set(paris(2025, 3, 12, 10, 59))
    assert run_scan(now=clock.now)["matched"] == 0
    clock.set(paris(2025, 3, 12, 11, 0))
    assert run_scan(now=clock.now)["matched"] == 1
    assert Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE).count() == 2
    assert TimeRuleEpisode.objects.filter(ticket=ticket, matched=True).count() == 2


def test_other_conditions_are_checked_when_the_delay_is_reached(acme, clock):
    org, *_ = acme
    rule(org, NEW_FOR_2H, {"field": "priority", "op": "is", "value": "urgent"}, actions=[NOTIFY_MANAGERS])
    urgent = TicketFactory(organization=org, priority="urgent")
    normal = TicketFactory(organization=org, priority="normal")
    clock.set(paris(2025, 3, 10, 12, 0))
    assert run_scan(now=clock.now) == {"rules": 1, "looked_at": 2, "matched": 1}
    assert AutomationRun.objects.filter(ticket=urgent).exists()
    assert not AutomationRun.objects.filter(ticket=normal).exists()
    assert TimeRuleEpisode.objects.get(ticket=normal).matched is False


def test_a_ticket_that_left_the_status_is_not_touched(acme, clock):
    org, _admin, _manager, agent = acme
    rule(org, NEW_FOR_2H, actions=[NOTIFY_MANAGERS])
    ticket = TicketFactory(organization=org)
    clock.set(paris(2025, 3, 10, 11, 0))
    services.change_status(ticket=ticket, status=Status.OPEN, actor=acting(agent))
    clock.set(paris(2025, 3, 10, 15, 0))
    assert run_scan(now=clock.now)["matched"] == 0
    assert manager_notes() == 0


def test_imported_tickets_are_never_looked_at(acme, clock):
    org, *_ = acme
    rule(org, NEW_FOR_2H, actions=[NOTIFY_MANAGERS])
    TicketFactory(organization=org, imported=True)
    clock.set(paris(2025, 3, 11, 15, 0))
    assert run_scan(now=clock.now) == {"rules": 1, "looked_at": 0, "matched": 0}


def test_time_rules_beyond_the_plan_limit_do_not_run(acme, clock):
    org, *_ = acme
    for i in range(6):
        rule(org, NEW_FOR_2H, actions=[{"type": "add_tag", "tag": f"t{i}"}])
    org.plan = Plan.STARTER
    org.save(update_fields=["plan"])
    ticket = TicketFactory(organization=org)
    clock.set(paris(2025, 3, 10, 12, 0))
    assert run_scan(now=clock.now)["rules"] == 5
    assert set(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)) == {f"t{i}" for i in range(5)}


def test_changing_the_delay_does_not_fire_an_episode_again(acme, clock):
    org, admin, *_ = acme
    r = rule(org, NEW_FOR_2H, actions=[NOTIFY_MANAGERS])
    TicketFactory(organization=org)
    clock.set(paris(2025, 3, 10, 12, 0))
    assert run_scan(now=clock.now)["matched"] == 1
    automation_services.update_rule(
        rule=r, actor=acting(admin), name=r.name, events=[], actions=r.actions,
        conditions=[{**NEW_FOR_2H, "amount": 1}],
    )
    assert AutomationRule.objects.get(pk=r.pk).scan_after_at is None  # the cursor restarts...
    assert run_scan(now=clock.now)["matched"] == 0  # ...but the episode already fired


def test_the_scan_reads_a_range_of_the_index(acme, clock):
    """Each scan starts where the previous one stopped: tickets already looked at are not read again."""
    org, *_ = acme
    r = rule(org, NEW_FOR_2H, actions=[{"type": "add_tag", "tag": "vu"}])
    first = TicketFactory(organization=org)
    clock.set(paris(2025, 3, 10, 12, 0))
    run_scan(now=clock.now)
    r.refresh_from_db()
    assert (r.scan_after_id, r.scan_after_at) == (first.pk, first.status_changed_at)
    second = TicketFactory(organization=org)
    clock.set(paris(2025, 3, 10, 14, 0))
    assert run_scan(now=clock.now) == {"rules": 1, "looked_at": 1, "matched": 1}
    assert TimeRuleEpisode.objects.filter(ticket=second).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_scanning_at_once_fire_each_episode_once(clock):
    org = OrganizationFactory(plan=Plan.BUSINESS)
    member(org, Role.ADMIN)
    member(org, Role.MANAGER)
    rule(org, NEW_FOR_2H, actions=[NOTIFY_MANAGERS, {"type": "add_note", "text": "Toujours nouveau."}])
    tickets = [TicketFactory(organization=org) for _ in range(30)]
    clock.set(paris(2025, 3, 10, 16, 0))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(run_scan(now=clock.now, batch=7))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(r["matched"] for r in results) == 30
    assert AutomationRun.objects.count() == 30
    assert Message.objects.filter(kind=MessageKind.NOTE).count() == 30
    assert manager_notes() == 60  # 2 managers x 30 tickets, once each
    assert run_scan(now=clock.now)["matched"] == 0
    assert {t.pk for t in tickets} == set(TimeRuleEpisode.objects.values_list("ticket_id", flat=True))
