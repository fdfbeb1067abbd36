"""Build the dashboard's per-day rollups of the last 366 days (sla.dashboard.rollups): after the upgrade, an
import, or a change of time zone. The Celery task does the same every five minutes, a few days at a time."""

import time

from django.core.management.base import BaseCommand, CommandError

from lumiodesk.models import Organization
from sla.dashboard import rollups


class Command(BaseCommand):
    help = "Build the dashboard's per-day rollups not built yet (or changed since) of the last 366 days."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="one organization's slug (default: all)")

    def handle(self, *args, org: str | None, **options):
        org_id = None
        if org:
            org_id = Organization.objects.filter(slug=org).values_list("pk", flat=True).first()
            if org_id is None:
                raise CommandError(f"unknown organization: {org}")
        started = time.monotonic()
        n = rollups.refresh(organization_id=org_id, out=self.stdout.write)
        self.stdout.write(f"{n} day(s) built in {time.monotonic() - started:.1f} s")
