"""The managers' dashboard at 100,000 tickets (``make bench`` runs ``manage.py dashboard_bench``).

Seeds an organization "Dashboard bench" (reused between runs) by COPY: N tickets created over the last
365 days (90 % resolved or closed, the rest open), two to four messages each (customer, replies), their SLA
outcomes and a satisfaction rating on one ticket in five. Then times the dashboard for the last 30 days and for
365 days: ``sla.dashboard.figures.compute`` (six queries: the past days from the per-day rollups, built first as the
Celery task keeps them, today live) plus the rendering of the figures' template; then
the whole page through Django's test client (middleware, session, membership, the menu), as a Manager would
load it; and the SLA report of the same periods (``sla.reports.compute``: its breach catch-up, which reads only
the SLA scan's backlog, then the outcomes of the period). Targets (issue 20): 300 ms at 100,000 tickets, 500 ms at
1,000,000 (``--tickets 1000000``: an organization of its own, seeded once, about 20 minutes on a busy machine).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from crm.models import Customer
from lumiodesk.models import Membership, Organization, Plan, Role
from sla import reports as sla_reports
from sla.dashboard import figures, rollups
from sla.dashboard.presentation import presentation_context
from tickets.models import Ticket

SLUG = "dashboard-bench"
TARGET_MS = 300


def target_ms(tickets: int) -> int:
    return TARGET_MS if tickets <= 100_000 else 500
H = 3600


def slug(tickets: int) -> str:
    """One organization per size, so the 100,000 and the 1,000,000 ticket sets live side by side."""
    return SLUG if tickets == 100_000 else f"{SLUG}-{tickets}"


def run(*, tickets: int = 100_000, runs: int = 20, reseed: bool = False, out=print) -> dict:
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'bench'.")
    org = Organization.objects.filter(slug=slug(tickets)).first()
    have = Ticket.objects.filter(organization=org).count() if org else 0
    if org is None or have != tickets or reseed:
        org = seed(org, tickets, out)
    else:
        out(f"Dashboard bench organization already has {have:,} tickets: reusing them.")
    # The per-day rollups, as the Celery task keeps them (the past days; today is read live): the missing ones.
    started = time.monotonic()
    built = rollups.refresh(organization_id=org.pk)
    out(f"Rollups: {built} day(s) built in {time.monotonic() - started:.1f} s.")
    return measure(org, runs, out)


def _copy(cur, table: str, columns: list[str], rows) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def seed(org: Organization | None, n: int, out, *, analyze: bool = True) -> Organization:
    """``analyze=False``: inside a transaction (a test), where VACUUM cannot run."""
    started = time.monotonic()
    if org is not None:
        with transaction.atomic(), connection.cursor() as cur:  # what the seed wrote, by SQL (no ORM cascade)
            for table in ("crm_satisfactionrating", "sla_slaoutcome", "tickets_message", "tickets_ticket"):
                cur.execute(f"DELETE FROM {table} WHERE organization_id = %s", [org.pk])
    else:
        org = Organization.objects.create(name=f"Dashboard bench {n:,}", slug=slug(n), plan=Plan.SCALE,
                                          time_zone="Europe/Paris")
    User = get_user_model()
    team = []
    for i in range(8):
        email = f"dash-bench-{i}@lumiodesk.test" if n == 100_000 else f"dash-bench-{n}-{i}@lumiodesk.test"
        user, _ = User.objects.get_or_create(username=email,
                                             defaults={"email": email,
                                                       "first_name": f"Agent {i}"})
        Membership.objects.update_or_create(organization=org, user=user,
                                            defaults={"role": Role.MANAGER if i == 0 else Role.AGENT})
        team.append(user.pk)
    customer, _ = Customer.objects.get_or_create(organization=org, email="client@dashboard-bench.test")
    rng = random.Random(20261207)
    now = timezone.now().replace(microsecond=0)
    priorities = ["low", "normal", "normal", "normal", "high", "urgent"]
    channels = ["email", "email", "chat", "form", "manual"]
    plan = []  # (number, created, status, priority, assignee, first_reply, resolved, replies, channel, asked, answered)
    for i in range(n):
        created = now - timedelta(seconds=rng.randint(0, 365 * 24 * H))
        first = created + timedelta(seconds=rng.randint(300, 12 * H))
        done = rng.random() < 0.9 and first < now
        resolved = min(first + timedelta(seconds=rng.randint(600, 72 * H)), now) if done else None
        status = (rng.choice(["resolved", "closed", "closed"]) if done
                  else rng.choice(["new", "open", "open", "waiting_customer", "waiting_internal"]))
        replied = status != "new" and first < now
        replies = (1 if rng.random() < 0.7 else 2) if replied else 0
        asked = first + timedelta(seconds=rng.randint(600, 24 * H)) if replies == 2 else None
        asked = asked if asked and asked < now else None
        answered = asked + timedelta(seconds=rng.randint(300, 8 * H)) if asked else None
        answered = answered if answered and answered < now else None
        plan.append((i + 1, created, status, rng.choice(priorities), rng.choice(team), first if replied else None,
                     resolved, replies, rng.choice(channels), asked, answered))
    # Numbered and written in the order they were created, as a live organization's rows are laid out on disk (the
    # period's tickets and their messages close together); organizations seeded before this line: --reseed.
    plan.sort(key=lambda p: p[1])
    plan = [(i + 1, *p[1:]) for i, p in enumerate(plan)]
    columns = ["organization_id", "number", "subject", "status", "priority", "channel", "customer_id", "assignee_id",
               "imported", "created_at", "updated_at", "status_changed_at", "last_customer_message_at",
               "followups_sent", "sla_paused_seconds", "first_response_at", "resolved_at", "closed_at",
               "sender_unverified", "first_response_due_at", "resolution_due_at", "sla_due_at", "sla_warn_at"]

    def clocks(created, status, first):
        """The open tickets' SLA fields (due in 8 h and 3 days, the nearest running one, warned 4 h before)."""
        if status in ("resolved", "closed"):
            return (None, None, None, None)
        due = created + timedelta(days=3) if first else created + timedelta(hours=8)
        return (created + timedelta(hours=8), created + timedelta(days=3), due, due - timedelta(hours=4))

    with transaction.atomic(), connection.cursor() as cur:
        _copy(cur, "tickets_ticket", columns, (
            (org.pk, num, f"Ticket {num}", status, prio, channel, customer.pk, agent, False, created,
             resolved or answered or first or created, resolved or created, asked or created, 0, 0, first, resolved,
             resolved if status == "closed" else None, False, *clocks(created, status, first))
            for num, created, status, prio, agent, first, resolved, _r, channel, asked, answered in plan))
        Organization.objects.filter(pk=org.pk).update(last_ticket_number=n)
        cur.execute("SELECT number, id FROM tickets_ticket WHERE organization_id = %s", [org.pk])
        ids = dict(cur.fetchall())

        def messages():
            for num, created, _s, _p, agent, first, _res, _r, _c, asked, answered in plan:
                yield (org.pk, ids[num], "customer", None, customer.pk, "email", "", "", "", "", created)
                if first:
                    yield (org.pk, ids[num], "reply", agent, None, "email", "", "", "", "", first)
                if asked:
                    yield (org.pk, ids[num], "customer", None, customer.pk, "email", "", "", "", "", asked)
                if answered:
                    yield (org.pk, ids[num], "reply", agent, None, "email", "", "", "", "", answered)

        _copy(cur, "tickets_message", ["organization_id", "ticket_id", "kind", "author_user_id", "author_customer_id",
                                       "channel", "body_html", "body_text", "body_quoted", "email_message_id",
                                       "created_at"], messages())

        def outcomes():
            for num, created, _s, prio, agent, first, resolved, _r, _c, _a, _b in plan:
                if first:
                    seconds = int((first - created).total_seconds() * 0.4)
                    yield (org.pk, ids[num], "first_response", prio, agent, created, created + timedelta(hours=8),
                           first, seconds, seconds > 2 * H, now)
                if resolved:
                    seconds = int((resolved - created).total_seconds() * 0.4)
                    yield (org.pk, ids[num], "resolution", prio, agent, created, created + timedelta(days=3),
                           resolved, seconds, seconds > 27 * H, now)

        _copy(cur, "sla_slaoutcome", ["organization_id", "ticket_id", "metric", "priority", "agent_id",
                                      "ticket_created_at", "due_at", "achieved_at", "business_seconds", "breached",
                                      "updated_at"], outcomes())
        _copy(cur, "crm_satisfactionrating", ["organization_id", "ticket_id", "customer_id", "agent_id", "score",
                                              "comment", "created_at", "updated_at"], (
            (org.pk, ids[num], customer.pk, agent, rng.choice([1, 2, 3, 4, 4, 5, 5, 5]),
             rng.choice(["", "", "Merci !", "Trop long"]), resolved, resolved)
            for num, _cr, _s, _p, agent, _f, resolved, _r, _c, _a, _b in plan if resolved and rng.random() < 0.2))
    with connection.cursor() as cur:
        for table in ("tickets_ticket", "tickets_message", "sla_slaoutcome", "crm_satisfactionrating")[:4 * analyze]:
            cur.execute(f"VACUUM ANALYZE {table}")
    out(f"Seeded {n:,} tickets with messages, outcomes and ratings in {time.monotonic() - started:.1f} s.")
    return org


def _time(org: Organization, days: int, runs: int) -> tuple[list[float], int]:
    today = timezone.now().astimezone(timezone.get_current_timezone()).date()
    f = figures.DashboardFilters(start=today - timedelta(days=days - 1), end=today)
    timings, queries = [], 0
    with translation.override("fr"):
        for i in range(runs + 1):
            t0 = time.perf_counter()
            with CaptureQueriesContext(connection) as ctx:
                data = figures.compute(org, f, now=timezone.now(), time_zone=org.time_zone)
            render_to_string("dashboard/_figures.html", {**presentation_context(data), "links": True})
            elapsed = (time.perf_counter() - t0) * 1000
            queries = len(ctx.captured_queries)
            if i:  # the first run warms the caches
                timings.append(elapsed)
    return timings, queries


def _time_page(org: Organization, runs: int) -> list[float]:
    membership = Membership.objects.filter(organization=org, role=Role.MANAGER, is_active=True).first()
    if membership is None:
        raise CommandError("the bench organization has no Manager: run with --reseed")
    client = Client()
    client.force_login(membership.user)
    timings = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        response = client.get(reverse("sla:dashboard"))
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise CommandError(f"the dashboard answered {response.status_code}")
        if i:
            timings.append(elapsed)
    return timings


def _time_report(org: Organization, days: int, runs: int) -> list[float]:
    today = timezone.now().astimezone(ZoneInfo(org.time_zone)).date()
    timings = []
    for i in range(runs + 1):
        with transaction.atomic():  # the catch-up writes outcomes: rolled back, every run does the same work
            t0 = time.perf_counter()
            sla_reports.compute(org, start=today - timedelta(days=days - 1), end=today, granularity="week",
                                time_zone=org.time_zone, now=timezone.now())
            elapsed = (time.perf_counter() - t0) * 1000
            transaction.set_rollback(True)
        if i:
            timings.append(elapsed)
    return timings


def _p95(timings: list[float]) -> float:
    return sorted(timings)[max(math.ceil(0.95 * len(timings)) - 1, 0)]


def measure(org: Organization, runs: int, out) -> dict:
    count = Ticket.objects.filter(organization=org).count()
    target = target_ms(count)
    result = {"tickets": count}
    out(f"\nDashboard over {count:,} tickets, {runs} runs each (figures + template):")
    for days in (30, 365):
        timings, queries = _time(org, days, runs)
        p95, median = _p95(timings), statistics.median(timings)
        result[f"{days}d_median_ms"], result[f"{days}d_p95_ms"] = median, p95
        out(f"  last {days} days: median {median:.0f} ms, p95 {p95:.0f} ms, {queries} queries "
            f"(target {target} ms): {'PASS' if p95 <= target else 'FAIL'}")
    page = _time_page(org, runs)
    p95 = _p95(page)
    result["page_median_ms"], result["page_p95_ms"] = statistics.median(page), p95
    out(f"  the page (default: 30 days, test client): median {statistics.median(page):.0f} ms, p95 {p95:.0f} ms "
        f"(target {target} ms): {'PASS' if p95 <= target else 'FAIL'}")
    out("SLA report (catch-up + outcomes of the period):")
    for days in (30, 365):
        timings = _time_report(org, days, runs)
        p95, median = _p95(timings), statistics.median(timings)
        result[f"report_{days}d_median_ms"], result[f"report_{days}d_p95_ms"] = median, p95
        out(f"  last {days} days: median {median:.0f} ms, p95 {p95:.0f} ms")
    return result
