"""Print the due times a ticket would get, as one JSON object (ISO 8601 with the UTC offset, in the
organization's time zone): the same code as for a real ticket (sla.clock.due_times).

    python manage.py sla_preview --org acme --priority high --created 2025-03-10T17:30:00+01:00

A ``--created`` without an offset is read in the organization's time zone.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from lumiodesk.models import Organization
from sla.services import preview
from tickets.models import Priority


class Command(BaseCommand):
    help = "Print the first-response and resolution due times of a ticket created at an instant (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument("--priority", required=True, choices=Priority.values)
        parser.add_argument("--created", required=True, help="ISO 8601, e.g. 2025-03-10T17:30:00+01:00")

    def handle(self, *args, org: str, priority: str, created: str, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"unknown organization: {org}")
        try:
            at = datetime.fromisoformat(created.strip())
        except ValueError as exc:
            raise CommandError(f"--created: not an ISO 8601 date-time: {created!r}") from exc
        tz = ZoneInfo(organization.time_zone)
        if at.tzinfo is None:
            at = at.replace(tzinfo=tz)
        first, resolution = preview(organization=organization, priority=priority, created_at=at)
        self.stdout.write(json.dumps({
            "first_response_due": first.astimezone(tz).isoformat() if first else None,
            "resolution_due": resolution.astimezone(tz).isoformat() if resolution else None,
        }))
