"""python manage.py sla_preview: one JSON object, ISO 8601 with the UTC offset, as for a real ticket."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from factories import OrganizationFactory, TicketFactory

from sla.models import Holiday
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def preview(**options) -> dict:
    out = StringIO()
    call_command("sla_preview", stdout=out, **options)
    text = out.getvalue()
    assert text.count("\n") <= 1  # one object, one line
    return json.loads(text)


@pytest.mark.parametrize(
    "priority, created, first, resolution",
    [
        ("high", "2025-03-10T17:30:00+01:00", "2025-03-11T10:30:00+01:00", "2025-03-11T17:30:00+01:00"),
        ("low", "2025-03-08T10:00:00+01:00", "2025-03-12T15:00:00+01:00", "2025-03-17T09:00:00+01:00"),
        ("normal", "2025-03-10T09:00:00+01:00", "2025-03-10T17:00:00+01:00", "2025-03-13T09:00:00+01:00"),
        # UTC input, across the change to summer time (30 March 2025).
        ("urgent", "2025-03-28T16:45:00Z", "2025-03-31T09:15:00+02:00", "2025-03-31T12:45:00+02:00"),
        # No offset: read in the organization's time zone.
        ("urgent", "2025-03-10T08:00", "2025-03-10T09:30:00+01:00", "2025-03-10T13:00:00+01:00"),
    ],
)
def test_the_due_times(priority, created, first, resolution):
    OrganizationFactory(slug="acme")
    assert preview(org="acme", priority=priority, created=created) == {
        "first_response_due": first, "resolution_due": resolution,
    }


def test_it_uses_the_organizations_calendar_and_time_zone():
    org = OrganizationFactory(slug="york", time_zone="America/New_York")
    Holiday.objects.create(organization=org, date="2025-03-11")
    assert preview(org="york", priority="high", created="2025-03-10T17:00:00-04:00") == {
        "first_response_due": "2025-03-12T10:00:00-04:00", "resolution_due": "2025-03-12T17:00:00-04:00",
    }


def test_it_agrees_with_a_real_ticket(clock):
    org = OrganizationFactory(slug="acme")
    ticket = Ticket.objects.get(pk=TicketFactory(organization=org, priority="high").pk)
    got = preview(org="acme", priority="high", created=clock.now.isoformat())
    assert got["first_response_due"] == ticket.first_response_due_at.astimezone(clock.now.tzinfo).isoformat()
    assert got["resolution_due"] == ticket.resolution_due_at.astimezone(clock.now.tzinfo).isoformat()


def test_errors():
    OrganizationFactory(slug="acme")
    with pytest.raises(CommandError, match="unknown organization"):
        call_command("sla_preview", org="nope", priority="high", created="2025-03-10T10:00:00+01:00")
    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("sla_preview", org="acme", priority="high", created="lundi")
    with pytest.raises(CommandError):
        call_command("sla_preview", "--org", "acme", "--priority", "critical", "--created", "2025-03-10T10:00")
