"""``python manage.py cost_bench``: customer search and the cost dashboard at 100,000 customers, 100,000 tickets
and 1,000,000 time entries.

``make bench`` runs it with DATABASE_URL pointing at ``lumiodesk_bench`` (it refuses any database whose name
does not contain "bench"). It seeds, once (reused afterwards; ``--reseed`` to start again), an organization
"Cost bench" by ``INSERT ... SELECT generate_series``: 20 agents with hourly costs, 5,000 companies, 100,000
customers, 100,000 tickets over the last 12 months and 1,000,000 time entries (ten per ticket, by two agents,
within two weeks of its creation), the monthly rollup, and one budget per company.
It then times (median and max of ``--runs``) what the screens ask: the customer list and its search, the
company search, the dashboard over 12 months, over one month and for one company, the budget statuses of
30 budgets, and one customer's record. Target: each ≤ 300 ms.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from crm.models import Budget, Company, Customer, HourlyRate, customer_search_expression
from lumiodesk.models import Membership, Organization, Plan, Role
from tickets.costs import rollup, selectors
from tickets.models import Ticket

SLUG = "cost-bench"
TARGET_MS = 300


class Command(BaseCommand):
    help = "Seed 100k customers and tickets and 1M time entries (reused), time the cost dashboard and searches."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--tickets", type=int, default=100_000)
        parser.add_argument("--entries", type=int, default=1_000_000)
        parser.add_argument("--runs", type=int, default=7)
        parser.add_argument("--reseed", action="store_true")

    def handle(self, *args, customers: int, tickets: int, entries: int, runs: int, reseed: bool, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("cost_bench seeds a million rows: point DATABASE_URL at a database named *bench*.")
        call_command("migrate", interactive=False, verbosity=0)
        org = Organization.objects.filter(slug=SLUG).first()
        if reseed and org is not None:
            with transaction.atomic():
                Ticket.objects.filter(organization=org).delete()
                org.delete()
            org = None
        if org is None:
            org = self.seed(customers, tickets, entries)
        else:
            self.stdout.write(f"Cost bench organization already seeded: "
                              f"{Ticket.objects.filter(organization=org).count():,} tickets, reusing them.")
        self.measure(org, runs)

    def seed(self, customers: int, tickets: int, entries: int) -> Organization:
        started = time.monotonic()
        org = Organization.objects.create(name="Cost bench", slug=SLUG, plan=Plan.SCALE, time_zone="Europe/Paris")
        User = get_user_model()
        agents = []
        for i in range(20):
            user, _ = User.objects.get_or_create(username=f"cost-bench-{i}@lumiodesk.test",
                                                 defaults={"email": f"cost-bench-{i}@lumiodesk.test",
                                                           "first_name": "Agent", "last_name": f"{i:02d}"})
            Membership.objects.get_or_create(organization=org, user=user, defaults={"role": Role.AGENT})
            agents.append(user.pk)
        today = timezone.localdate()
        HourlyRate.objects.bulk_create([HourlyRate(organization=org, user_id=pk, amount=30 + i,
                                                   effective_from=today - timedelta(days=400))
                                        for i, pk in enumerate(agents)])
        companies = customers // 20
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("""
                INSERT INTO crm_company (organization_id, name, domain, created_at)
                SELECT %s, 'Entreprise ' || g, 'entreprise' || g || '.fr', now() FROM generate_series(1, %s) g
            """, [org.pk, companies])
            cur.execute("SELECT min(id) FROM crm_company WHERE organization_id = %s", [org.pk])
            first_company = cur.fetchone()[0]
            cur.execute("""
                INSERT INTO crm_customer (organization_id, first_name, last_name, email, phone, company_id,
                                          notification_preference, attributes, created_at)
                SELECT %s, (ARRAY['Léa','Jean','Marie','Paul','Nadia','Hugo','Inès','Louis'])[1 + g %% 8],
                       'Nom' || (g * 7919 %% 100000), 'client' || g || '@example' || (g %% 50) || '.fr', '',
                       CASE WHEN g %% 10 < 8 THEN %s + g %% %s END, 'both', '{}', now()
                FROM generate_series(1, %s) g
            """, [org.pk, first_company, companies, customers])
            cur.execute("SELECT min(id) FROM crm_customer WHERE organization_id = %s", [org.pk])
            first_customer = cur.fetchone()[0]
            cur.execute("""
                INSERT INTO tickets_ticket (organization_id, number, subject, status, priority, channel, customer_id,
                    assignee_id, imported, sender_unverified, created_at, updated_at, status_changed_at,
                    followups_sent, sla_paused_seconds)
                SELECT %s, g, 'Demande ' || g, (ARRAY['open','resolved','closed','waiting_customer'])[1 + g %% 4],
                       'normal', 'email', %s + (g * 31 %% %s), (%s::int[])[1 + g %% 20], true, false,
                       now() - (g %% 365) * interval '1 day', now(), now(), 0, 0
                FROM generate_series(1, %s) g
            """, [org.pk, first_customer, customers, agents, tickets])
            Organization.objects.filter(pk=org.pk).update(last_ticket_number=tickets)
            cur.execute("SELECT min(id) FROM tickets_ticket WHERE organization_id = %s", [org.pk])
            first_ticket = cur.fetchone()[0]
            cur.execute("""
                INSERT INTO tickets_timeentry (organization_id, ticket_id, user_id, date, running, minutes, note,
                                               rate, cost, created_at, updated_at)
                SELECT %s, %s + (g %% %s), (%s::int[])[1 + (g + g / %s %% 2) %% 20],
                       LEAST(CURRENT_DATE, CURRENT_DATE - ((g %% %s + 1) %% 365) + (g / %s * 37 %% 14)), false,
                       5 + g %% 90, '', 30 + g %% 20, round((5 + g %% 90) * (30 + g %% 20) / 60.0, 2), now(), now()
                FROM generate_series(1, %s) g
            """, [org.pk, first_ticket, tickets, agents, tickets, tickets, tickets, entries])
        rows = rollup.rebuild(org.pk)
        self.stdout.write(f"Monthly rollup: {rows:,} rows.")
        Budget.objects.bulk_create([
            Budget(organization=org, company_id=first_company + i, period="month", start=today.replace(day=1),
                   end=(today.replace(day=1) + timedelta(days=32)).replace(day=1), amount=500)
            for i in range(companies)
        ])
        with connection.cursor() as cur:
            for table in ("crm_company", "crm_customer", "tickets_ticket", "tickets_timeentry", "crm_budget",
                          "tickets_timecostmonth", "tickets_ticketcostmonth"):
                cur.execute(f"VACUUM ANALYZE {table}")
        self.stdout.write(f"Seeded {companies:,} companies, {customers:,} customers, {tickets:,} tickets, "
                          f"{entries:,} time entries in {time.monotonic() - started:.0f} s.")
        return org

    def measure(self, org: Organization, runs: int) -> None:
        today = timezone.localdate()
        company = Company.objects.filter(organization=org).order_by("pk")[10]
        customer = Customer.objects.filter(organization=org, company=company).first()
        year = selectors.Filters(start=today - timedelta(days=365), end=today)
        month = selectors.Filters(start=today.replace(day=1), end=today)
        quarter = selectors.Filters(start=(today.replace(day=1) - timedelta(days=62)).replace(day=1), end=today)
        half = selectors.Filters(start=(today.replace(day=1) - timedelta(days=150)).replace(day=1), end=today)
        budgets = list(Budget.objects.filter(organization=org).order_by("pk")[:30])
        customers = Customer.objects.filter(organization=org).select_related("company")
        cases = {
            "customer list, page 1": lambda: list(customers.order_by("last_name", "first_name", "id")[:51]),
            "customer list, page 500": lambda: list(customers.order_by("last_name", "first_name", "id")
                                                    [25000:25051]),
            "customer search 'nom4242'": lambda: list(
                customers.alias(h=customer_search_expression()).filter(h__contains="nom4242")
                .order_by("last_name", "first_name", "id")[:51]),
            "customer search 'example7.fr'": lambda: list(
                customers.alias(h=customer_search_expression()).filter(h__contains="example7.fr")
                .order_by("last_name", "first_name", "id")[:51]),
            "dashboard, 12 months": lambda: selectors.dashboard(org.pk, year),
            "dashboard, this month": lambda: selectors.dashboard(org.pk, month),
            "dashboard, 3 months (the default)": lambda: selectors.dashboard(org.pk, quarter),
            "dashboard, 6 months": lambda: selectors.dashboard(org.pk, half),
            "dashboard, 12 months, one company": lambda: selectors.dashboard(
                org.pk, selectors.Filters(start=year.start, end=year.end, company_id=company.pk)),
            "budget status of 30 budgets": lambda: selectors.budget_statuses(budgets, today),
            "customer record (tickets, totals)": lambda: (selectors.tickets_of_customer(customer),
                                                          selectors.totals_of_customer(customer)),
            "company record (tickets, totals)": lambda: (selectors.tickets_of_company(company),
                                                         selectors.totals_of_company(company)),
        }
        self.stdout.write(f"{'case':<40} {'median ms':>10} {'max ms':>8}")
        worst = 0.0
        for name, fn in cases.items():
            fn()  # warm
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1000)
            median = statistics.median(times)
            worst = max(worst, median)
            flag = "" if median <= TARGET_MS else "  over target"
            self.stdout.write(f"{name:<40} {median:>10.1f} {max(times):>8.1f}{flag}")
        self.stdout.write(f"Worst median: {worst:.1f} ms (target ≤ {TARGET_MS} ms).")
