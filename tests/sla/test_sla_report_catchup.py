"""The SLA report's breach catch-up (``sla.outcomes.record_breaches``): it counts every running clock past its
due time, exactly as reading every ticket would, while it reads only the tickets the scan has still to look at
(``sla_next_alert_at`` come, partial index ``ticket_sla_alert_idx``), never the organization's tickets."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from factories import TicketFactory, acting

from sla import alerts, outcomes, reports
from sla import clock as sla_clock
from sla import services as sla_services
from sla.models import SlaOutcome
from tickets import services
from tickets.models import MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def breaches_by_hand(org, now: datetime) -> set[tuple[int, str]]:
    """What the old catch-up did: every ticket of the organization read, every running clock past due a breach,
    plus the breaches already recorded."""
    running = {
        (t.pk, r.metric) for t in Ticket.objects.filter(organization=org) for r in sla_clock.running(t) if r.due <= now
    }
    recorded = set(SlaOutcome.objects.filter(organization=org, breached=True).values_list("ticket_id", "metric"))
    return running | recorded


def recorded_breaches(org) -> set[tuple[int, str]]:
    return set(SlaOutcome.objects.filter(organization=org, breached=True).values_list("ticket_id", "metric"))


def test_the_report_counts_the_breaches_the_scan_has_not_seen_yet(clock, world):
    org, agent = world.org, world.agent
    high = TicketFactory(organization=org, priority="high", assignee=agent)  # Monday 10:00
    urgent = TicketFactory(organization=org, priority="urgent", assignee=agent)
    clock.set(paris(2025, 3, 10, 10, 20))
    services.add_message(ticket=urgent, kind=MessageKind.REPLY, body="On regarde.", actor=acting(agent))  # met
    # The scan runs once, at noon: it records the breaches due by then and moves its cursors.
    alerts.run_scan(now=paris(2025, 3, 10, 12, 1))
    seen_by_scan = recorded_breaches(org)
    assert (high.pk, "first_response") in seen_by_scan
    # Then no scan (a stopped beat): the resolution clocks and the world's normal ticket go past due.
    now = paris(2025, 3, 13, 12)  # Thursday: the normal ticket's resolution (3 business days) is due at 10:00
    clock.set(now)
    expected = breaches_by_hand(org, now)
    assert expected - seen_by_scan  # there is something to catch up
    report = reports.generate_report(
        organization=org, start=date(2025, 3, 10), end=date(2025, 3, 10), granularity="day", actor=acting(world.manager)
    )
    assert recorded_breaches(org) == expected
    totals = report.data["totals"]
    # By hand: first response: the urgent met (20 min), the high and the world's normal ticket breached;
    # resolution: all three still open past their due time.
    assert (totals["first_response"]["met"], totals["first_response"]["breached"]) == (1, 2)
    assert (totals["resolution"]["met"], totals["resolution"]["breached"]) == (0, 3)


def test_a_second_clock_breached_after_the_first_is_caught_up(clock, world):
    """The first response breached and recorded by the scan; later the resolution goes past due: the ticket's
    nearest due time (``sla_due_at``) is still the first one, the cursor is not."""
    org = world.org
    ticket = TicketFactory(organization=org, priority="urgent")
    alerts.run_scan(now=paris(2025, 3, 10, 10, 31))  # first response due 10:30
    assert recorded_breaches(org) >= {(ticket.pk, "first_response")}
    assert (ticket.pk, "resolution") not in recorded_breaches(org)
    now = paris(2025, 3, 10, 15)  # resolution (4 business hours) due 14:00
    outcomes.record_breaches(org.pk, now)
    assert (ticket.pk, "resolution") in recorded_breaches(org)
    assert recorded_breaches(org) == breaches_by_hand(org, now)


def test_resolved_or_paused_clocks_are_not_breaches(clock, world):
    org = world.org
    resolved = TicketFactory(organization=org, priority="urgent")
    clock.set(paris(2025, 3, 10, 10, 10))
    services.add_message(ticket=resolved, kind=MessageKind.REPLY, body="Fait.", actor=acting(world.agent))
    services.change_status(ticket=resolved, status=Status.RESOLVED, actor=acting(world.agent))
    waiting = TicketFactory(organization=org, priority="urgent")
    services.add_message(ticket=waiting, kind=MessageKind.REPLY, body="Une précision ?", actor=acting(world.agent))
    services.change_status(ticket=waiting, status=Status.WAITING_CUSTOMER, actor=acting(world.agent))
    now = paris(2025, 3, 11, 18)
    outcomes.record_breaches(org.pk, now)
    assert not SlaOutcome.objects.filter(ticket__in=[resolved, waiting], breached=True).exists()
    assert recorded_breaches(org) == breaches_by_hand(org, now)


def test_restamping_without_past_alerts_records_the_breaches_it_does_not_tell(clock, world):
    ticket = TicketFactory(organization=world.org, priority="urgent")  # first response due 10:30
    now = paris(2025, 3, 10, 12)
    clock.set(now)
    sla_services.restamp_open_tickets(world.org.pk, past_alerts=False)
    assert Ticket.objects.get(pk=ticket.pk).sla_next_alert_at > now  # the scan will not look at it before 13:45
    assert (ticket.pk, "first_response") in recorded_breaches(world.org)
    outcomes.record_breaches(world.org.pk, now)
    assert recorded_breaches(world.org) == breaches_by_hand(world.org, now)


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_the_catch_up_reads_only_the_scans_backlog(clock, world):
    """Thousands of the organization's tickets (handled, or with a clock running later), two whose clocks
    passed their due time unseen: the statement reaches the tickets only through ``ticket_sla_alert_idx`` and
    reads no more rows than the tickets whose ``sla_next_alert_at`` has come."""
    org = world.org
    template = TicketFactory(organization=org, priority="low")  # due later in the week: its cursor is ahead
    late = [TicketFactory(organization=org, priority="urgent") for _ in range(2)]
    columns = [
        f.column
        for f in Ticket._meta.concrete_fields
        if f.column not in ("id", "number") and not getattr(f, "generated", False)
    ]
    cols = ", ".join(columns)
    # 1001-2500 written closed, without a clock (not written open then updated: a 1,500-row UPDATE spent 3 s in
    # the dashboard's dirty-day trigger, whose old/new rows join is planned for a few rows), 2501-4000 as the template.
    handled = ", ".join({"status": "'closed'", "sla_next_alert_at": "NULL", "sla_due_at": "NULL"}.get(c, c)
                        for c in columns)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO tickets_ticket (number, {cols}) SELECT 1000 + g, {handled} FROM tickets_ticket, "
            "generate_series(1, 1500) g WHERE id = %s",
            [template.pk],
        )
        cur.execute(
            f"INSERT INTO tickets_ticket (number, {cols}) SELECT 1000 + g, {cols} FROM tickets_ticket, "
            "generate_series(1501, 3000) g WHERE id = %s",
            [template.pk],
        )
        cur.execute("ANALYZE tickets_ticket")
    now = paris(2025, 3, 10, 11)
    backlog = Ticket.objects.filter(sla_next_alert_at__lte=now).count()
    assert backlog >= 2 and backlog < 10
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + outcomes._BREACHES, {"org": org.pk, "now": now})
        plan = cur.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    scans = [n for n in _plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "tickets_ticket"]
    assert scans, plan
    for node in scans:
        assert node["Node Type"] in ("Index Scan", "Bitmap Heap Scan"), json.dumps(plan, indent=1)
        read = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        assert read <= backlog, json.dumps(plan, indent=1)
    indexes = {n.get("Index Name") for n in _plan_nodes(plan[0]["Plan"])}
    assert "ticket_sla_alert_idx" in indexes, json.dumps(plan, indent=1)
    assert {(t.pk, "first_response") for t in late} <= recorded_breaches(org)
    assert recorded_breaches(org) == breaches_by_hand(org, now)
