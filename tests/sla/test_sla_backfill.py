"""sla_backfill: outcomes of tickets handled before the SLA existed, from their history."""

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from factories import TicketFactory, acting

from sla.backfill import backfill
from sla.models import SlaOutcome
from tickets import services
from tickets.models import MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_the_history_gives_the_same_outcomes_as_the_live_clock(clock, world):
    ticket = TicketFactory(organization=world.org, priority="normal", assignee=world.agent)
    clock.set(paris(2025, 3, 10, 12))
    services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="?", actor=acting(world.agent),
                         then_status=Status.WAITING_CUSTOMER)
    clock.set(paris(2025, 3, 12, 12))
    services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Voilà")
    clock.set(paris(2025, 3, 13, 15))
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    live = {o.metric: (o.due_at, o.achieved_at, o.business_seconds, o.breached, o.agent_id)
            for o in SlaOutcome.objects.filter(ticket=ticket)}
    live_ticket = Ticket.objects.get(pk=ticket.pk)

    SlaOutcome.objects.all().delete()  # as if handled before the upgrade
    Ticket.objects.filter(pk=ticket.pk).update(first_response_due_at=None, resolution_due_at=None,
                                               sla_paused_at=None, sla_paused_seconds=0)
    assert backfill(world.org.pk) == 1
    replayed = {o.metric: (o.due_at, o.achieved_at, o.business_seconds, o.breached, o.agent_id)
                for o in SlaOutcome.objects.filter(ticket=ticket)}
    assert replayed == live
    again = Ticket.objects.get(pk=ticket.pk)
    assert again.resolution_due_at == live_ticket.resolution_due_at
    assert again.sla_paused_seconds == live_ticket.sla_paused_seconds == 18 * 3600
    assert backfill(world.org.pk) == 0  # idempotent


def test_the_command(clock, world):
    services.change_status(ticket=world.ticket, status=Status.CLOSED, actor=acting(world.agent))
    SlaOutcome.objects.all().delete()
    out = StringIO()
    call_command("sla_backfill", "--org", "acme", stdout=out)
    assert "acme: 1 ticket(s) backfilled" in out.getvalue()
    assert SlaOutcome.objects.get(ticket=world.ticket).metric == "resolution"
