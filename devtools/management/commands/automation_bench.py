"""Time 100 rules against a ticket event and the time-rule scan over 1,000,000 tickets.

See devtools.bench.automations."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from devtools.bench import automations as bench


class Command(BaseCommand):
    help = "Automations in the bench database: 100 rules against an event (< 5 ms), the time-rule scan over " \
           "1,000,000 tickets (< 2 s). Refuses a database whose name lacks 'bench'."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=1_000_000)
        parser.add_argument("--event-runs", type=int, default=200)
        parser.add_argument("--scan-runs", type=int, default=10)
        parser.add_argument("--reseed", action="store_true")

    def handle(self, *args, tickets: int, event_runs: int, scan_runs: int, reseed: bool, **options):
        bench._refuse_unless_bench()  # before migrating anything
        call_command("migrate", interactive=False, verbosity=0)
        bench.run(tickets_count=tickets, event_runs=event_runs, scan_runs=scan_runs, reseed=reseed,
                  out=self.stdout.write)
