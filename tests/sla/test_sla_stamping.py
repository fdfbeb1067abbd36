"""SLA due times stamped by the ticket services (through tickets.events), pauses, reopening, outcomes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import run_queued
from factories import SYSTEM, OrganizationFactory, TicketFactory, acting, member

from lumiodesk.models import Role
from sla import services as sla_services
from sla.models import BusinessHours, Holiday, SlaOutcome, SlaPolicy, SlaSettings
from tickets import services
from tickets.models import MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def fresh(ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def reply(ticket, agent, **kw):
    return services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Nous regardons.", actor=acting(agent),
                                **kw)


def customer_says(ticket):
    return services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Voici la précision.")


@pytest.mark.parametrize(
    "priority, first_response, resolution, warn",
    [
        # Created Monday 10 March 2025, 10:00 (Paris); Monday–Friday 9:00–18:00.
        ("low", paris(2025, 3, 12, 16), paris(2025, 3, 17, 10), paris(2025, 3, 11, 16)),  # 24 h / 5 days
        ("normal", paris(2025, 3, 10, 18), paris(2025, 3, 13, 10), paris(2025, 3, 10, 14)),  # 8 h / 3 days
        ("high", paris(2025, 3, 10, 12), paris(2025, 3, 11, 10), paris(2025, 3, 10, 11)),  # 2 h / 1 day
        ("urgent", paris(2025, 3, 10, 10, 30), paris(2025, 3, 10, 14), paris(2025, 3, 10, 10, 15)),  # 30 min / 4 h
    ],
)
def test_creation_stamps_the_section_13_targets(clock, world, priority, first_response, resolution, warn):
    ticket = fresh(TicketFactory(organization=world.org, priority=priority))
    assert ticket.first_response_due_at == first_response
    assert ticket.resolution_due_at == resolution
    assert ticket.sla_due_at == first_response  # the nearest running clock
    assert ticket.sla_warn_at == warn  # the warning's lead, in business time
    assert ticket.sla_next_alert_at == warn
    assert ticket.sla_paused_at is None and ticket.sla_paused_seconds == 0


def test_a_ticket_created_at_the_weekend_starts_on_monday_morning(clock, world):
    clock.set(paris(2025, 3, 8, 22, 15))  # Saturday night
    ticket = fresh(TicketFactory(organization=world.org, priority="urgent"))
    assert ticket.first_response_due_at == paris(2025, 3, 10, 9, 30)
    assert ticket.resolution_due_at == paris(2025, 3, 10, 13)


def test_imported_tickets_have_no_sla(clock, world):
    ticket = fresh(services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.customer,
                                          subject="Ancien",
                                          body="Import", imported=True, created_at=paris(2024, 1, 3, 10)))
    assert (ticket.first_response_due_at, ticket.resolution_due_at, ticket.sla_due_at) == (None, None, None)
    assert ticket.sla_next_alert_at is None


def test_a_priority_change_recomputes_from_the_creation(clock, world):
    ticket = TicketFactory(organization=world.org, priority="normal")
    clock.advance(minutes=10)
    services.set_priority(ticket=ticket, priority="urgent", actor=acting(world.agent))
    ticket = fresh(ticket)
    assert ticket.first_response_due_at == paris(2025, 3, 10, 10, 30)
    assert ticket.resolution_due_at == paris(2025, 3, 10, 14)
    assert ticket.sla_next_alert_at == paris(2025, 3, 10, 10, 15)
    services.set_priority(ticket=ticket, priority="low", actor=acting(world.agent))
    assert fresh(ticket).resolution_due_at == paris(2025, 3, 17, 10)


def test_the_first_public_reply_meets_the_first_response(clock, world):
    ticket = TicketFactory(organization=world.org, priority="high")
    services.add_message(ticket=ticket, kind=MessageKind.NOTE, body="Je regarde", actor=acting(world.agent))
    assert fresh(ticket).first_response_at is None  # a note is not a response
    clock.set(paris(2025, 3, 10, 11, 30))
    reply(ticket, world.agent)
    ticket = fresh(ticket)
    assert ticket.sla_due_at == ticket.resolution_due_at == paris(2025, 3, 11, 10)
    assert ticket.sla_next_alert_at == paris(2025, 3, 10, 10) + timedelta(days=1) - timedelta(hours=1)
    outcome = SlaOutcome.objects.get(ticket=ticket, metric="first_response")
    assert (outcome.breached, outcome.business_seconds, outcome.agent) == (False, 90 * 60, world.agent)
    assert outcome.due_at == paris(2025, 3, 10, 12)


def test_a_late_first_response_is_a_breach(clock, world):
    ticket = TicketFactory(organization=world.org, priority="urgent")
    clock.set(paris(2025, 3, 11, 9, 15))  # the next morning: 8 h 15 of business time later
    reply(ticket, world.agent)
    outcome = SlaOutcome.objects.get(ticket=ticket, metric="first_response")
    assert outcome.breached is True
    assert outcome.business_seconds == (8 * 60 + 15) * 60


def test_waiting_on_the_customer_pauses_the_resolution_clock(clock, world):
    ticket = TicketFactory(organization=world.org, priority="normal")  # resolution due Thursday 10:00
    clock.set(paris(2025, 3, 10, 11))
    reply(ticket, world.agent, then_status=Status.WAITING_CUSTOMER)
    ticket = fresh(ticket)
    assert ticket.sla_paused_at == paris(2025, 3, 10, 11)
    assert ticket.sla_due_at is None and ticket.sla_next_alert_at is None  # no clock runs

    clock.set(paris(2025, 3, 12, 11))  # Wednesday: 7 + 9 + 2 = 18 business hours later
    customer_says(ticket)
    ticket = fresh(ticket)
    assert ticket.status == Status.OPEN
    assert ticket.sla_paused_at is None
    assert ticket.sla_paused_seconds == 18 * 3600
    # Thursday 10:00 + 18 business hours = Monday 17 March, 10:00.
    assert ticket.resolution_due_at == ticket.sla_due_at == paris(2025, 3, 17, 10)


def test_without_the_pause_setting_the_clock_keeps_running(clock, world):
    SlaSettings.objects.filter(organization=world.org).update(pause_when_waiting_customer=False)
    ticket = TicketFactory(organization=world.org, priority="normal")
    reply(ticket, world.agent, then_status=Status.WAITING_CUSTOMER)
    ticket = fresh(ticket)
    assert ticket.sla_paused_at is None
    assert ticket.sla_due_at == paris(2025, 3, 13, 10)
    clock.set(paris(2025, 3, 12, 11))
    customer_says(ticket)
    assert fresh(ticket).resolution_due_at == paris(2025, 3, 13, 10)


def test_resolving_stops_the_clock_and_reopening_keeps_the_history(clock, world):
    ticket = TicketFactory(organization=world.org, priority="normal")  # resolution due Thursday 10:00
    clock.set(paris(2025, 3, 10, 15))
    reply(ticket, world.agent, then_status=Status.RESOLVED)
    ticket = fresh(ticket)
    assert ticket.sla_due_at is None and ticket.sla_next_alert_at is None
    resolution = SlaOutcome.objects.get(ticket=ticket, metric="resolution")
    assert (resolution.breached, resolution.business_seconds) == (False, 5 * 3600)
    first = SlaOutcome.objects.get(ticket=ticket, metric="first_response")

    clock.set(paris(2025, 3, 11, 15))  # the customer comes back a day later: 9 business hours resolved
    customer_says(ticket)
    ticket = fresh(ticket)
    assert ticket.status == Status.OPEN
    assert ticket.first_response_at == paris(2025, 3, 10, 15)  # kept
    assert ticket.sla_paused_seconds == 9 * 3600
    assert ticket.resolution_due_at == paris(2025, 3, 14, 10)  # pushed back by the time it was resolved
    assert SlaOutcome.objects.get(ticket=ticket, metric="first_response") == first

    clock.set(paris(2025, 3, 17, 12))  # resolved again, too late this time
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    resolution.refresh_from_db()
    assert resolution.breached is True
    assert resolution.achieved_at == paris(2025, 3, 17, 12)


def test_a_breach_stays_a_breach_after_a_reopening(clock, world):
    ticket = TicketFactory(organization=world.org, priority="urgent")  # resolution due 14:00
    reply(ticket, world.agent)
    clock.set(paris(2025, 3, 10, 16))
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    assert SlaOutcome.objects.get(ticket=ticket, metric="resolution").breached
    clock.set(paris(2025, 3, 11, 10))
    customer_says(ticket)
    ticket = fresh(ticket)
    # Stopped after its due time: the pause adds nothing, the ticket is still overdue.
    assert ticket.resolution_due_at == paris(2025, 3, 10, 14)
    assert ticket.sla_paused_seconds == 0
    assert ticket.sla_due_at == paris(2025, 3, 10, 14)
    clock.set(paris(2025, 3, 11, 11))
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    assert SlaOutcome.objects.get(ticket=ticket, metric="resolution").breached


def test_the_resolution_time_does_not_count_the_wait_on_the_customer(clock, world):
    ticket = TicketFactory(organization=world.org, priority="normal")
    clock.set(paris(2025, 3, 10, 12))
    reply(ticket, world.agent, then_status=Status.WAITING_CUSTOMER)  # 2 h worked
    clock.set(paris(2025, 3, 11, 12))
    customer_says(ticket)  # 9 h waiting
    clock.set(paris(2025, 3, 11, 13))
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))  # 1 h more
    outcome = SlaOutcome.objects.get(ticket=ticket, metric="resolution")
    assert outcome.business_seconds == 3 * 3600
    assert outcome.agent == world.agent


def test_resolving_while_waiting_stops_the_clock_when_the_wait_began(clock, world):
    ticket = TicketFactory(organization=world.org, priority="urgent")  # resolution due 14:00
    clock.set(paris(2025, 3, 10, 11))
    reply(ticket, world.agent, then_status=Status.WAITING_CUSTOMER)
    clock.set(paris(2025, 3, 12, 11))  # days later, the agent closes it
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    outcome = SlaOutcome.objects.get(ticket=ticket, metric="resolution")
    assert outcome.breached is False
    assert outcome.achieved_at == paris(2025, 3, 10, 11)
    assert outcome.business_seconds == 3600


def test_closing_automatically_stops_the_clocks(clock, world):
    ticket = TicketFactory(organization=world.org)
    reply(ticket, world.agent, then_status=Status.RESOLVED)
    clock.advance(days=8)
    services.run_lifecycle()
    ticket = fresh(ticket)
    assert ticket.status == Status.CLOSED
    assert ticket.sla_due_at is None and ticket.sla_next_alert_at is None


def test_opening_hours_holidays_and_time_zone_of_the_organization(clock, world):
    Holiday.objects.create(organization=world.org, date=date(2025, 3, 11), name="Fermeture")
    BusinessHours.objects.filter(organization=world.org, weekday=0).update(opens=time(8), closes=time(12))
    ticket = fresh(TicketFactory(organization=world.org, priority="high"))  # Monday 10:00, closes at 12:00
    assert ticket.first_response_due_at == paris(2025, 3, 10, 12)
    assert ticket.resolution_due_at == paris(2025, 3, 12, 10)  # Tuesday is a holiday

    york = OrganizationFactory(time_zone="America/New_York")
    clock.set(datetime(2025, 3, 10, 17, 30, tzinfo=ZoneInfo("America/New_York")))
    ticket = fresh(TicketFactory(organization=york, priority="high"))
    assert ticket.first_response_due_at == datetime(2025, 3, 11, 10, 30, tzinfo=ZoneInfo("America/New_York"))


def test_a_new_organization_gets_the_default_hours_and_policies(db):
    org = OrganizationFactory()
    hours = {h.weekday: h for h in BusinessHours.objects.filter(organization=org)}
    assert sorted(hours) == list(range(7))
    assert [d for d, h in hours.items() if h.is_open] == [0, 1, 2, 3, 4]
    assert (hours[0].opens, hours[0].closes) == (time(9), time(18))
    policies = {p.priority: p for p in SlaPolicy.objects.filter(organization=org)}
    assert (policies["urgent"].first_response_amount, policies["urgent"].first_response_unit) == (30, "minutes")
    assert (policies["low"].resolution_amount, policies["low"].resolution_unit) == (5, "days")
    assert SlaSettings.objects.get(organization=org).pause_when_waiting_customer is True


def test_changing_the_settings_restamps_the_open_tickets(clock, world, queued_tasks,
                                                         django_capture_on_commit_callbacks):
    open_ticket = TicketFactory(organization=world.org, priority="normal")
    done = TicketFactory(organization=world.org, priority="normal")
    reply(done, world.agent, then_status=Status.RESOLVED)
    before = fresh(done).resolution_due_at
    policies = [
        sla_services.PolicyInput(p.priority, p.first_response_amount, p.first_response_unit,
                                 1 if p.priority == "normal" else p.resolution_amount, p.resolution_unit)
        for p in SlaPolicy.objects.filter(organization=world.org)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        sla_services.save_policies(organization=world.org, policies=policies, actor=acting(world.manager))
    assert [name for name, _a, _k in queued_tasks] == ["sla.tasks.restamp_organization"]
    run_queued(queued_tasks)
    assert fresh(open_ticket).resolution_due_at == paris(2025, 3, 11, 10)
    assert fresh(done).resolution_due_at == before  # closed tickets keep theirs


def test_only_managers_change_the_settings(clock, world):
    from lumiodesk.exceptions import NotPermitted

    with pytest.raises(NotPermitted):
        sla_services.save_sla_settings(organization=world.org, pause_when_waiting_customer=False,
                                       actor=acting(world.agent))
    viewer = member(world.org, Role.VIEWER)
    with pytest.raises(NotPermitted):
        sla_services.add_holiday(organization=world.org, day=date(2025, 5, 1), name="", actor=acting(viewer))


def test_restamping_without_past_alerts(clock, world):
    ticket = TicketFactory(organization=world.org, priority="urgent")  # first response due 10:30
    clock.set(paris(2025, 3, 10, 12))
    sla_services.restamp_open_tickets(world.org.pk)
    assert fresh(ticket).sla_next_alert_at == paris(2025, 3, 10, 10, 30)  # the breach is still to be told
    sla_services.restamp_open_tickets(world.org.pk, past_alerts=False)
    assert fresh(ticket).sla_next_alert_at == paris(2025, 3, 10, 13, 45)  # only the resolution warning is left
