"""``python manage.py api_bench``: server time of the REST API's ticket list at 100,000 tickets.

``make bench`` runs it after ``bench``, on the same database (``lumiodesk_bench``; it refuses any database whose
name does not contain "bench"), and reuses the Bench organization ``bench`` seeds (100,000 tickets, Scale);
without it, it asks ``bench --seed-only`` first. It creates one API key (Agent) for the organization, then
requests each URL through ``django.test.Client`` with ``Authorization: Bearer``: warmed up, timed ``--runs``
times, median and p95 with the number of SQL queries. Target: p95 < 50 ms for the list (section 12 needs it
fast enough for 2,400 requests per minute). The rate limit is lifted for the run (the bench measures the
API, not the limit).
"""

from __future__ import annotations

import math
import os
import statistics
import time
import warnings

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from lumiodesk.models import Organization, Role
from lumiodesk.permissions import SystemActor
from tickets.api import keys
from tickets.api.models import ApiKey
from tickets.models import Ticket

TARGET_MS = 50


class Command(BaseCommand):
    help = "Time the REST API's ticket list on the Bench organization (100,000 tickets)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=60)

    def handle(self, *args, runs: int, **options):
        name = connection.settings_dict["NAME"]
        if "bench" not in name:
            raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'bench'.")
        call_command("migrate", interactive=False, verbosity=0)
        org = Organization.objects.filter(slug="bench").first()
        if org is None or not Ticket.objects.filter(organization=org).exists():
            call_command("bench", "--seed-only")
            org = Organization.objects.get(slug="bench")
        count = Ticket.objects.filter(organization=org).count()
        token = keys.create_key(actor=SystemActor("api bench"), organization=org, name="api bench",
                                role=Role.AGENT).token
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
        with override_settings(DEBUG=False, API_RATE_LIMIT_OVERRIDE=10**9):
            first = client.get("/api/v1/tickets/?limit=25").json()
            deep = first["next_cursor"]
            for _ in range(40):  # page 41: the cursor costs the same deep in the list
                deep = client.get(f"/api/v1/tickets/?limit=25&cursor={deep}").json()["next_cursor"]
            number = first["results"][0]["number"]
            urls = [
                ("List (25)", "/api/v1/tickets/"),
                ("List (100)", "/api/v1/tickets/?limit=100"),
                ("List, page 41 (cursor)", f"/api/v1/tickets/?cursor={deep}"),
                ("List ?status=open&priority=high", "/api/v1/tickets/?status=open&priority=high"),
                ("List ?tag=facturation", "/api/v1/tickets/?tag=facturation"),
                ("Search ?q=facture", "/api/v1/tickets/?q=facture"),
                ("Ticket with messages", f"/api/v1/tickets/{number}/"),
            ]
            self.stdout.write(f"\nREST API server time (Bench, {count:,} tickets), {runs} requests per URL after 3 "
                              f"warm-up requests, DEBUG off; load average {os.getloadavg()[0]:.1f} "
                              f"({os.cpu_count()} CPUs).\n")
            header = f"{'request':<36} {'median':>8} {'p95':>8} {'target':>8} {'SQL':>4}  result"
            self.stdout.write(header)
            self.stdout.write("-" * len(header))
            for label, url in urls:
                times, queries = self._time(client, url, runs)
                median = statistics.median(times)
                p95 = sorted(times)[max(math.ceil(0.95 * len(times)) - 1, 0)]
                verdict = self.style.SUCCESS("PASS") if p95 < TARGET_MS else self.style.ERROR("FAIL")
                self.stdout.write(f"{label:<36} {median:>6.1f}ms {p95:>6.1f}ms {TARGET_MS:>6}ms {queries:>4}  "
                                  f"{verdict}")
        ApiKey.objects.filter(organization=org, name="api bench").delete()

    def _time(self, client: Client, url: str, runs: int) -> tuple[list[float], int]:
        for _ in range(3):
            client.get(url)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise CommandError(f"GET {url} answered {response.status_code}: {response.content[:200]!r}")
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        return times, len(ctx.captured_queries)
