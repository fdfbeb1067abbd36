"""Record the SLA outcomes of tickets handled before the SLA existed (see sla.backfill)."""

from django.core.management.base import BaseCommand, CommandError

from lumiodesk.models import Organization
from sla.backfill import backfill


class Command(BaseCommand):
    help = "Replay the history of tickets without SLA outcomes (after the upgrade, or an import) for the reports."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="one organization's slug (default: all)")

    def handle(self, *args, org: str | None, **options):
        orgs = Organization.objects.all() if not org else Organization.objects.filter(slug=org)
        if org and not orgs.exists():
            raise CommandError(f"unknown organization: {org}")
        for o in orgs.order_by("pk"):
            n = backfill(o.pk)
            self.stdout.write(f"{o.slug}: {n} ticket(s) backfilled")
