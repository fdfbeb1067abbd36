"""Time the SLA scan over 1,000,000 open tickets in the bench database (see devtools.bench.sla)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from devtools.bench import sla as bench


class Command(BaseCommand):
    help = "Seed 1,000,000 open tickets (reused) and time the SLA scan with 100 due."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=1_000_000)
        parser.add_argument("--due", type=int, default=100)
        parser.add_argument("--runs", type=int, default=10)
        parser.add_argument("--reseed", action="store_true")

    def handle(self, *args, tickets: int, due: int, runs: int, reseed: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        bench.run(tickets=tickets, due=due, runs=runs, reseed=reseed, out=self.stdout.write)
