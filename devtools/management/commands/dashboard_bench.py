"""Time the managers' dashboard and the SLA report at 100,000 (or 1,000,000) tickets in the bench database."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from devtools.bench import dashboard as bench


class Command(BaseCommand):
    help = ("Seed 100,000 tickets (reused; --tickets 1000000 for the other size) and time the dashboard and the SLA "
            "report for 30 and 365 days (targets: 300 ms at 100,000 tickets, 500 ms at 1,000,000).")

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=100_000)
        parser.add_argument("--runs", type=int, default=20)
        parser.add_argument("--reseed", action="store_true")

    def handle(self, *args, tickets: int, runs: int, reseed: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        bench.run(tickets=tickets, runs=runs, reseed=reseed, out=self.stdout.write)
