"""The SLA scan over 1,000,000 open tickets (``make bench`` runs ``manage.py sla_bench``).

Seeds an organization "SLA bench" with N open tickets by COPY (reused between runs), their SLA fields
spread over the next 30 days, then times ``sla.alerts.run_scan`` when 100 tickets are due (each run
makes 100 other tickets due now: urgent, so they are alerted at any hour of the bench) and when none is.
Target: under 1 second per run with 100 due. Emails are not queued (no broker round trip measured);
everything else — the indexed selection, alerts, outcomes, notifications, the cursor update — is.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from crm.models import Customer
from lumiodesk import notifications
from lumiodesk.models import AgentNotification, Membership, Organization, Plan, Role
from sla import alerts
from sla.models import SlaAlert, SlaOutcome
from tickets.models import Priority, Status, Ticket

SLUG = "sla-bench"
TARGET_MS = 1000
OPEN = [Status.NEW, Status.OPEN, Status.WAITING_INTERNAL]


def run(*, tickets: int = 1_000_000, due: int = 100, runs: int = 10, reseed: bool = False, out=print) -> dict:
    """Seed (if needed) and measure; returns the timings in milliseconds."""
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'bench'.")
    org = Organization.objects.filter(slug=SLUG).first()
    have = Ticket.objects.filter(organization=org).count() if org else 0
    if org is None or have != tickets or reseed:
        org = seed(org, tickets, out)
    else:
        out(f"SLA bench organization already has {have:,} open tickets: reusing them.")
    return measure(org, due, runs, out)


def seed(org: Organization | None, n: int, out) -> Organization:
    started = time.monotonic()
    if org is not None:
        with transaction.atomic():
            SlaAlert.objects.filter(organization=org).delete()
            SlaOutcome.objects.filter(organization=org).delete()
            AgentNotification.objects.filter(organization=org).delete()
            Ticket.objects.filter(organization=org).delete()
    else:
        org = Organization.objects.create(name="SLA bench", slug=SLUG, plan=Plan.SCALE, time_zone="Europe/Paris")
    User = get_user_model()
    team = []
    for i in range(5):
        user, _ = User.objects.get_or_create(username=f"sla-bench-{i}@lumiodesk.test",
                                             defaults={"email": f"sla-bench-{i}@lumiodesk.test"})
        Membership.objects.get_or_create(organization=org, user=user, defaults={"role": Role.AGENT})
        team.append(user.pk)
    customer, _ = Customer.objects.get_or_create(organization=org, email="client@sla-bench.test")
    rng = random.Random(20261122)
    now = timezone.now().replace(microsecond=0)
    priorities = [Priority.LOW, Priority.NORMAL, Priority.NORMAL, Priority.NORMAL, Priority.HIGH, Priority.URGENT]

    def rows():
        for i in range(n):
            created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 20))
            first_due = now + timedelta(minutes=rng.randint(60, 60 * 24 * 30))
            resolution_due = first_due + timedelta(hours=rng.randint(4, 72))
            next_alert = first_due - timedelta(hours=1) if rng.random() < 0.9 else None
            yield (org.pk, i + 1, f"Ticket {i + 1}", rng.choice(OPEN), rng.choice(priorities), "email", customer.pk,
                   rng.choice(team), False, created, created, created, created, 0, 0, first_due, resolution_due,
                   first_due, first_due - timedelta(hours=1), next_alert)

    columns = ["organization_id", "number", "subject", "status", "priority", "channel", "customer_id", "assignee_id",
               "imported", "created_at", "updated_at", "status_changed_at", "last_customer_message_at",
               "followups_sent", "sla_paused_seconds", "first_response_due_at", "resolution_due_at", "sla_due_at",
               "sla_warn_at", "sla_next_alert_at"]
    with transaction.atomic(), connection.cursor() as cur:
        cols = ", ".join(f'"{c}"' for c in columns)
        with cur.copy(f'COPY "tickets_ticket" ({cols}) FROM STDIN') as copy:
            for row in rows():
                copy.write_row(row)
        Organization.objects.filter(pk=org.pk).update(last_ticket_number=n)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE tickets_ticket")
    out(f"Seeded {n:,} open tickets in {time.monotonic() - started:.1f} s.")
    return org


def _make_due(org: Organization, ids: list[int], now) -> None:
    due = now - timedelta(seconds=30)
    Ticket.objects.filter(pk__in=ids).update(
        priority=Priority.URGENT, status=Status.OPEN, first_response_at=None, sla_paused_at=None,
        first_response_due_at=due, sla_due_at=due, sla_warn_at=due - timedelta(minutes=15), sla_next_alert_at=due,
    )


def measure(org: Organization, due: int, runs: int, out) -> dict:
    ids = list(Ticket.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)[: due * (runs + 1)])
    if len(ids) < due * (runs + 1):
        raise CommandError("not enough tickets for that many runs")
    with_due, idle = [], []
    with mock.patch.object(notifications, "queue_emails", lambda ids: None):
        for i in range(runs + 1):
            now = timezone.now()
            _make_due(org, ids[i * due:(i + 1) * due], now)
            t0 = time.perf_counter()
            totals = alerts.run_scan(now=now)
            elapsed = (time.perf_counter() - t0) * 1000
            if i == 0:
                continue  # warm-up
            if totals["breaches"] < due:
                raise CommandError(f"expected {due} breaches, got {totals}")
            with_due.append(elapsed)
            t0 = time.perf_counter()
            alerts.run_scan(now=timezone.now())
            idle.append((time.perf_counter() - t0) * 1000)
    open_count = Ticket.objects.filter(organization=org, status__in=OPEN).count()
    p95 = sorted(with_due)[max(math.ceil(0.95 * len(with_due)) - 1, 0)]
    result = {"open_tickets": open_count, "due": due, "median_ms": statistics.median(with_due), "p95_ms": p95,
              "max_ms": max(with_due), "idle_median_ms": statistics.median(idle)}
    out(f"\nSLA scan over {open_count:,} open tickets, {runs} runs with {due} due (urgent: alerted at any hour):")
    out(f"  with {due} due: median {result['median_ms']:.0f} ms, p95 {p95:.0f} ms, max {result['max_ms']:.0f} ms "
        f"(target {TARGET_MS} ms): {'PASS' if p95 < TARGET_MS else 'FAIL'}")
    out(f"  nothing due:   median {result['idle_median_ms']:.1f} ms")
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM tickets_ticket WHERE sla_next_alert_at <= %s "
            "ORDER BY sla_next_alert_at LIMIT 500 FOR UPDATE SKIP LOCKED", [timezone.now()],
        )
        plan = "\n".join(f"    {r[0]}" for r in cur.fetchall())
    out(f"  the selection (EXPLAIN ANALYZE):\n{plan}")
    return result
