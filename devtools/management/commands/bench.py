"""``python manage.py bench``: 100,000 tickets in a separate database, then server time of the console pages.

``make bench`` runs it with DATABASE_URL pointing at ``lumiodesk_bench``. It refuses any database
whose name does not contain "bench". The data is seeded once with PostgreSQL COPY (one
organization "Bench" on Scale, ~5,000 customers, 3 messages per ticket, tags on ~30 % of the
tickets) and reused by the next runs (``--reseed`` to start again).

Then each page is requested through ``django.test.Client`` as an agent of the organization:
warmed up, then timed ``--runs`` times (median and p95, with the number of SQL queries), and
compared with the targets: p95 < 50 ms for the list and the ticket page, < 150 ms for search.
A page that misses its target gets the EXPLAIN ANALYZE of its slowest query.
"""

from __future__ import annotations

import html
import json
import math
import os
import random
import statistics
import time
import warnings
from collections import Counter
from datetime import timedelta
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import NOT_PROVIDED
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from crm.models import Company, Customer, CustomerContactChoice
from lumiodesk.models import AuditLog, Membership, Organization, Plan, Role
from tickets.email.models import EmailReference, InboundEmail, Mailbox
from tickets.models import (
    Attachment,
    Channel,
    CustomerNotification,
    CustomerNotificationKind,
    Message,
    MessageKind,
    NotificationLevel,
    Priority,
    ReplyTemplate,
    SavedView,
    Status,
    Tag,
    Ticket,
    TicketTag,
)
from tickets.services import SEARCH_DOCUMENT_SQL

from .seed_demo import (
    COMPANIES,
    CUSTOMER_NUDGES,
    CUSTOMER_THANKS,
    DEMO_SCENARIOS,
    DEMO_TAGS,
    FIRST_NAMES,
    GENERIC_NOTES,
    LAST_NAMES,
    _Vars,
    ascii_slug,
)

User = get_user_model()

TARGETS_MS = {"list": 50, "ticket": 50, "search": 150}
BENCH_TEAM = [
    ("bench-agent@bench.test", "Aline", "Marchand", Role.AGENT),
    ("bench-manager@bench.test", "Bruno", "Vidal", Role.MANAGER),
    ("bench-agent2@bench.test", "Chantal", "Leblanc", Role.AGENT),
    ("bench-agent3@bench.test", "Damien", "Fabre", Role.AGENT),
    ("bench-agent4@bench.test", "Estelle", "Noël", Role.AGENT),
    ("bench-agent5@bench.test", "Florian", "Barbier", Role.AGENT),
    ("bench-agent6@bench.test", "Gaëlle", "Renaud", Role.AGENT),
    ("bench-agent7@bench.test", "Hervé", "Picard", Role.AGENT),
]
# Tables of the organization's data, children first (what --reseed deletes).
ORG_TABLES = [EmailReference, InboundEmail, CustomerNotification, Attachment, Message, TicketTag, Ticket, Tag,
              SavedView, ReplyTemplate, Customer, Company, AuditLog, Mailbox]
CHANNELS = [(Channel.EMAIL, 45), (Channel.CHAT, 20), (Channel.FORM, 20), (Channel.MANUAL, 8), (Channel.API, 7)]
RECENT_STATUSES = [(Status.NEW, 15), (Status.OPEN, 25), (Status.WAITING_CUSTOMER, 12),
                   (Status.WAITING_INTERNAL, 10), (Status.RESOLVED, 15), (Status.CLOSED, 23)]
OLD_STATUSES = [(Status.CLOSED, 955), (Status.OPEN, 25), (Status.WAITING_INTERNAL, 12), (Status.NEW, 8)]


def _html(text: str) -> str:
    """What lumiodesk.html_sanitizer.text_to_html stores, without its cost per row."""
    paras = html.escape(text).split("\n\n")
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paras)


def _pick(rng: random.Random, pairs):
    items, weights = zip(*pairs, strict=True)
    return rng.choices(items, weights=weights)[0]


class Command(BaseCommand):
    help = "Seed 100,000 tickets into the bench database (reused) and time the console pages."

    def add_arguments(self, parser):
        parser.add_argument("--reseed", action="store_true", help="Delete the Bench organization's data and seed "
                                                                  "it again.")
        parser.add_argument("--tickets", type=int, default=100_000)
        parser.add_argument("--customers", type=int, default=5_000)
        parser.add_argument("--runs", type=int, default=40, help="Timed requests per page (after warm-up).")
        parser.add_argument("--seed-only", action="store_true")
        parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest query of every "
                                                                   "page, not only of those over target.")

    def handle(self, *args, reseed: bool, tickets: int, customers: int, runs: int, seed_only: bool,
               explain: bool, **options):
        name = connection.settings_dict["NAME"]
        if "bench" not in name:
            raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'bench' "
                               "(make bench sets DATABASE_URL=.../lumiodesk_bench).")
        self.stdout.write(f"Database {name}: migrating ...")
        call_command("migrate", interactive=False, verbosity=0)
        org = Organization.objects.filter(slug="bench").first()
        have = Ticket.objects.filter(organization=org).count() if org else 0
        if org is not None and have == tickets and not reseed:
            self.stdout.write(f"Bench organization already has {have:,} tickets: reusing them (--reseed to redo).")
        else:
            org = self.seed(org, tickets, customers)
        if not seed_only:
            self.measure(org, runs, explain)

    # --- seeding ------------------------------------------------------------------------------------------

    def seed(self, org: Organization | None, n_tickets: int, n_customers: int) -> Organization:
        started = time.monotonic()
        rng = random.Random(20261122)
        if org is not None:
            self._wipe(org)
        else:
            org = Organization.objects.create(name="Bench", slug="bench", plan=Plan.SCALE, language="fr",
                                              time_zone="Europe/Paris")
        steps: list[tuple[str, float]] = []

        def lap(label: str) -> None:
            steps.append((label, time.monotonic() - started - sum(t for _l, t in steps)))

        with transaction.atomic():
            team = self._team(org)
            tags = {t: Tag.objects.create(organization=org, name=t).pk for t in DEMO_TAGS}
            companies = [c.pk for c in Company.objects.bulk_create(
                [Company(organization=org, name=f"{name} {i // len(COMPANIES) + 1}" if i >= len(COMPANIES) else name)
                 for i, name in enumerate(COMPANIES * 10)])]
            with connection.cursor() as cur:
                customers = self._customers(cur, org, rng, n_customers, companies)
                lap(f"{len(customers):,} customers")
                counts = self._tickets(cur, org, rng, n_tickets, customers, team, tags)
                lap(f"{n_tickets:,} tickets, {counts['messages']:,} messages, {counts['tags']:,} tags, "
                    f"{counts['audit']:,} audit rows, {counts['notifications']:,} notifications (COPY)")
                Organization.objects.filter(pk=org.pk).update(last_ticket_number=n_tickets)
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the foreign keys now, not at commit
                lap("foreign key checks")
                # The search documents in one statement; the GIN index is faster built once afterwards.
                cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'tickets_ticket' "
                            "AND indexname = 'ticket_search_idx'")
                search_index = cur.fetchone()
                if search_index:
                    cur.execute('DROP INDEX "ticket_search_idx"')
                cur.execute("SET LOCAL work_mem = '256MB'")
                cur.execute(SEARCH_DOCUMENT_SQL, [counts["ids"]])
                lap("search documents (tickets.services.SEARCH_DOCUMENT_SQL)")
                if search_index:
                    cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
                    cur.execute(search_index[0])  # as the migration defined it
                    lap("search index")
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        lap("VACUUM ANALYZE")
        self.stdout.write(self.style.SUCCESS(f"Seeded in {time.monotonic() - started:.1f} s:"))
        for label, seconds in steps:
            self.stdout.write(f"  {seconds:6.1f} s  {label}")
        self.stdout.write(f"  statuses: {', '.join(f'{k} {v:,}' for k, v in counts['status'].most_common())}")
        self.stdout.write(f"  priorities: {', '.join(f'{k} {v:,}' for k, v in counts['priority'].most_common())}")
        return org

    def _wipe(self, org: Organization) -> None:
        t0 = time.monotonic()
        with transaction.atomic(), connection.cursor() as cur:
            for model in ORG_TABLES:
                cur.execute(f'DELETE FROM "{model._meta.db_table}" WHERE organization_id = %s', [org.pk])
            Organization.objects.filter(pk=org.pk).update(last_ticket_number=0)
        self.stdout.write(f"Deleted the Bench organization's data in {time.monotonic() - t0:.1f} s.")

    def _team(self, org: Organization) -> list[int]:
        ids = []
        for email, first, last, role in BENCH_TEAM:
            user, created = User.objects.get_or_create(
                username=email, defaults={"email": email, "first_name": first, "last_name": last}
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            Membership.objects.get_or_create(organization=org, user=user, defaults={"role": role})
            ids.append(user.pk)
        return ids

    def _reserve_ids(self, cur, model, n: int) -> list[int]:
        table = model._meta.db_table
        cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])
        return [r[0] for r in cur.fetchall()]

    def _copy(self, cur, model, columns: list[str], rows) -> int:
        """COPY rows into the model's table; NOT NULL columns left out get the field's default."""
        missing = [f for f in model._meta.concrete_fields
                   if f.column not in columns and not f.null and not f.primary_key and not f.generated
                   and f.db_default is NOT_PROVIDED]  # a database default is the database's to fill
        tail = []
        for f in missing:
            if not f.has_default() and not f.empty_strings_allowed:
                raise CommandError(f"{model.__name__}.{f.name} is NOT NULL without a default: add it to the bench.")
            value = f.get_default()
            tail.append(json.dumps(value) if isinstance(value, dict | list) else value)
        tail = tuple(tail)
        cols = ", ".join(f'"{c}"' for c in columns + [f.column for f in missing])
        n = 0
        with cur.copy(f'COPY "{model._meta.db_table}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row + tail)
                n += 1
        return n

    def _customers(self, cur, org, rng, n: int, companies: list[int]) -> list[tuple[int, str, str, str, str]]:
        ids = self._reserve_ids(cur, Customer, n)
        prefs = [(CustomerContactChoice.BOTH, 50), (CustomerContactChoice.EMAIL_ONLY, 22),
                 (CustomerContactChoice.WEB_ONLY, 18), (CustomerContactChoice.NONE, 10)]
        created = timezone.now() - timedelta(days=400)
        out, rows = [], []
        for i, pk in enumerate(ids):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{ascii_slug(first)}.{ascii_slug(last)}{i}@{rng.choice(['example.fr', 'example.com'])}"
            pref = _pick(rng, prefs)
            company = rng.choice(companies) if rng.random() < 0.7 else None
            rows.append((pk, org.pk, first, last, email, f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} 00 00",
                         company, pref, json.dumps({"plan": rng.choice(["Starter", "Business", "Scale"])}), created))
            out.append((pk, first, last, email, pref))
        self._copy(cur, Customer, ["id", "organization_id", "first_name", "last_name", "email", "phone",
                                   "company_id", "notification_preference", "attributes", "created_at"], rows)
        return out

    def _tickets(self, cur, org, rng, n, customers, team: list[int], tags: dict[str, int]) -> dict:
        now = timezone.now().replace(microsecond=0)
        span = timedelta(days=365)
        ids = self._reserve_ids(cur, Ticket, n)
        offsets = sorted(rng.random() ** 0.85 for _ in range(n))  # more tickets lately
        # A few customers write a lot.
        weights = [1 / (i + 5) ** 0.6 for i in range(len(customers))]
        picks = rng.choices(range(len(customers)), weights=weights, k=n)
        scenarios = [s for s in DEMO_SCENARIOS if not s.get("spam")]
        sc_weights = [s["weight"] for s in scenarios]
        tickets, messages, ticket_tags, audit, notifications = [], [], [], [], []
        status_count, priority_count = Counter(), Counter()
        agent_names = {pk: first for pk, (_e, first, _l, _r) in zip(team, BENCH_TEAM, strict=True)}
        workers = [pk for pk, (*_x, role) in zip(team, BENCH_TEAM, strict=True) if role != Role.VIEWER]
        for i, pk in enumerate(ids):
            created = now - span + span * offsets[i]
            age = now - created
            status = _pick(rng, RECENT_STATUSES if age < timedelta(days=7) else OLD_STATUSES)
            sc = rng.choices(scenarios, weights=sc_weights)[0]
            priority = Priority.URGENT if rng.random() < 0.03 else _pick(rng, sc["priority"].items())
            channel = _pick(rng, CHANNELS)
            c_pk, c_first, c_last, c_email, c_pref = customers[picks[i]]
            assignee = rng.choice(workers) if status != Status.NEW or rng.random() < 0.2 else None
            v = _Vars(plan=rng.choice(["Starter", "Business", "Scale"]), price=89, extra=7, exports=20,
                      amount=rng.randint(90, 400), invoice=f"F-2026-{rng.randint(1000, 99999)}",
                      month=rng.choice(["septembre", "octobre", "novembre"]), month_next="novembre",
                      vat=f"FR{rng.randint(10**10, 10**11 - 1)}", last4=f"{rng.randint(0, 9999):04d}", email=c_email,
                      company_or_name=f"{c_first} {c_last}", colleague=rng.choice(FIRST_NAMES),
                      colleague_agent=rng.choice(list(agent_names.values())), day=f"{rng.randint(1, 28)}",
                      site=f"www.{ascii_slug(c_last, '-')}{rng.randint(1, 999)}.fr", browser="Firefox",
                      provider="Gmail", support_address=f"support@{ascii_slug(c_last, '-')}.fr", hour=9, hour2=15,
                      n=rng.randint(1, n), agents=rng.choice([4, 8, 12]), approver="validation Manager")
            subject, opening = rng.choice(sc["variants"])
            subject = subject.format_map(v)
            v["subject"] = subject
            # Timeline.
            first_response = created + timedelta(minutes=rng.uniform(10, 600))
            done = min(first_response + timedelta(hours=rng.uniform(1, 72)), now)
            resolved_at = closed_at = None
            status_changed = created
            if status != Status.NEW:
                first_response = min(first_response, now)
                status_changed = done if status != Status.OPEN else first_response
            else:
                first_response = None
            if status in (Status.RESOLVED, Status.CLOSED):
                resolved_at = done
                closed_at = min(done + timedelta(days=7), now) if status == Status.CLOSED else None
                status_changed = closed_at or resolved_at
            last_activity = max(x for x in (created, first_response, status_changed) if x)
            tickets.append((pk, org.pk, i + 1, subject, status, priority, channel, c_pk, assignee, False, created,
                            last_activity, status_changed, first_response, resolved_at, closed_at, created, 0))
            status_count[status] += 1
            priority_count[priority] += 1
            # Three messages.
            body = f"Bonjour,\n\n{opening.format_map(v)}\n\nCordialement,\n{c_first} {c_last}"
            messages.append((org.pk, pk, MessageKind.CUSTOMER, None, c_pk, channel, _html(body), body, created))
            author = assignee or rng.choice(workers)
            sign = f"\n\nCordialement,\n{agent_names[author]}\nÉquipe support"
            if status == Status.NEW:
                second = (MessageKind.CUSTOMER, rng.choice(CUSTOMER_NUDGES), created + timedelta(hours=5))
                third = (MessageKind.NOTE, rng.choice(GENERIC_NOTES).format_map(v), created + timedelta(hours=6))
            else:
                text = sc.get("solution") if status in (Status.RESOLVED, Status.CLOSED) else (
                    sc.get("ask") or sc.get("solution"))
                second = (MessageKind.REPLY, f"Bonjour {c_first},\n\n{text.format_map(v)}{sign}", first_response)
                if status == Status.CLOSED and rng.random() < 0.6:
                    third = (MessageKind.CUSTOMER, rng.choice(CUSTOMER_THANKS), done)
                else:
                    third = (MessageKind.NOTE, (sc.get("note") or rng.choice(GENERIC_NOTES)).format_map(v), done)
            for kind, text, at in (second, third):
                at = min(max(at, created), now)
                is_customer = kind == MessageKind.CUSTOMER
                messages.append((org.pk, pk, kind, None if is_customer else author, c_pk if is_customer else None,
                                 channel if is_customer else Channel.MANUAL, _html(text), text, at))
            if rng.random() < 0.3:
                names = sc["tags"] or [rng.choice(DEMO_TAGS)]
                ticket_tags += [(org.pk, pk, tags[t]) for t in names]
            audit.append((org.pk, None, "ticket.created", "ticket", pk, json.dumps({"channel": channel}), created))
            if assignee:
                audit.append((org.pk, assignee, "ticket.assigned", "ticket", pk, json.dumps({"new": assignee}),
                              created + timedelta(minutes=5)))
            if status != Status.NEW:
                audit.append((org.pk, author, "ticket.status", "ticket", pk,
                              json.dumps({"old": "new", "new": status}), status_changed))
            if resolved_at and c_pref != CustomerContactChoice.NONE:
                web = c_pref in (CustomerContactChoice.WEB_ONLY, CustomerContactChoice.BOTH)
                email = c_pref in (CustomerContactChoice.EMAIL_ONLY, CustomerContactChoice.BOTH)
                notifications.append((org.pk, c_pk, pk, CustomerNotificationKind.RESOLVED, NotificationLevel.SUCCESS,
                                      "Ticket de support : Résolu", f"Votre ticket '{subject}' est maintenant résolu.",
                                      web, email, resolved_at if email else None, resolved_at))
        self._copy(cur, Ticket, ["id", "organization_id", "number", "subject", "status", "priority", "channel",
                                 "customer_id", "assignee_id", "imported", "created_at", "updated_at",
                                 "status_changed_at", "first_response_at", "resolved_at", "closed_at",
                                 "last_customer_message_at", "followups_sent"], tickets)
        self._copy(cur, Message, ["organization_id", "ticket_id", "kind", "author_user_id", "author_customer_id",
                                  "channel", "body_html", "body_text", "created_at"], messages)
        self._copy(cur, TicketTag, ["organization_id", "ticket_id", "tag_id"], ticket_tags)
        self._copy(cur, AuditLog, ["organization_id", "actor_id", "action", "target_type", "target_id", "data",
                                   "created_at"], audit)
        self._copy(cur, CustomerNotification, ["organization_id", "customer_id", "ticket_id", "kind", "level",
                                               "title", "body", "web", "email", "emailed_at", "created_at"],
                   notifications)
        return {"messages": len(messages), "tags": len(ticket_tags), "audit": len(audit),
                "notifications": len(notifications), "ids": ids,
                "status": status_count, "priority": priority_count}

    # --- measuring ----------------------------------------------------------------------------------------

    def measure(self, org: Organization, runs: int, explain: bool) -> None:
        agent = User.objects.get(username=BENCH_TEAM[0][0])
        rng = random.Random(7)
        last = Organization.objects.get(pk=org.pk).last_ticket_number
        # A customer from the middle of the list: a few tickets, like most of them.
        with_tickets = Customer.objects.filter(organization=org, tickets__isnull=False).distinct().order_by("id")
        customer = with_tickets.values("last_name", "email")[with_tickets.count() // 2]
        numbers = [rng.randint(1, last) for _ in range(runs + 3)]
        pages = [
            ("list", "Liste", ["/tickets/"]),
            ("list", "Liste ?status=open&priority=high", ["/tickets/?status=open&priority=high"]),
            ("list", "Liste ?tag=facturation", ["/tickets/?tag=facturation"]),
            ("list", "Liste ?assignee=me&status=open", ["/tickets/?assignee=me&status=open"]),
            ("search", "Recherche ?q=facture", ["/tickets/?q=facture"]),
            ("search", f"Recherche ?q={customer['last_name']} (nom)", [f"/tickets/?q={quote(customer['last_name'])}"]),
            ("search", "Recherche ?q=<email du client>", [f"/tickets/?q={quote(customer['email'])}"]),
            ("search", "Recherche ?q=widget&status=open", ["/tickets/?q=widget&status=open"]),
            ("ticket", f"Page ticket (n° variés, {len(numbers) - 3} tickets)", [f"/tickets/{n}/" for n in numbers]),
        ]
        warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
        client = Client()
        client.force_login(agent)
        self.stdout.write(f"\nServer time as {agent.email} (Bench, {last:,} tickets), {runs} requests per page "
                          "after 3 warm-up requests, DEBUG off. SQL: queries of one request and their time.")
        load = os.getloadavg()[0]
        if load > (os.cpu_count() or 1) * 0.7:
            self.stdout.write(self.style.WARNING(
                f"Load average {load:.1f} on {os.cpu_count()} CPUs: other processes compete, times are inflated."))
        self.stdout.write("")
        header = f"{'page':<52} {'median':>8} {'p95':>8} {'target':>8} {'SQL':>4} {'SQL ms':>7}  result"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        slow: list[tuple[str, list[dict]]] = []
        for kind, label, urls in pages:
            try:
                times, queries = self._time(client, urls, runs)
            except Exception as exc:  # a missing template, a 500: report it and go on
                self.stdout.write(f"{label:<52} {'—':>8} {'—':>8} {TARGETS_MS[kind]:>6}ms {'—':>4} {'—':>7}  "
                                  f"ERROR {type(exc).__name__}: {str(exc)[:80]}")
                continue
            median = statistics.median(times)
            p95 = sorted(times)[max(math.ceil(0.95 * len(times)) - 1, 0)]
            ok = p95 < TARGETS_MS[kind]
            verdict = self.style.SUCCESS("PASS") if ok else self.style.ERROR("FAIL")
            sql_ms = sum(float(q["time"]) for q in queries) * 1000
            self.stdout.write(f"{label:<52} {median:>6.1f}ms {p95:>6.1f}ms {TARGETS_MS[kind]:>6}ms "
                              f"{len(queries):>4} {sql_ms:>5.0f}ms  {verdict}")
            if not ok or explain:
                slow.append((label, queries))
        for label, queries in slow:
            self._explain(label, queries)
        self.stdout.write(f"\nLoad average after: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs).")

    def _time(self, client: Client, urls: list[str], runs: int) -> tuple[list[float], list[dict]]:
        def get(url: str) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise CommandError(f"GET {url} answered {response.status_code}")

        with override_settings(DEBUG=False):
            for i in range(3):
                get(urls[i % len(urls)])
            connection.queries_log.clear()  # each request resets it (request_started): start from empty
            with CaptureQueriesContext(connection) as ctx:
                get(urls[0])
            queries = list(ctx.captured_queries)  # read now: the next requests reset the log
            times = []
            for i in range(runs):
                url = urls[(i + 3) % len(urls)]
                t0 = time.perf_counter()
                get(url)
                times.append((time.perf_counter() - t0) * 1000)
        return times, queries

    def _explain(self, label: str, queries: list[dict]) -> None:
        top = sorted(queries, key=lambda q: -float(q["time"]))[:3]
        self.stdout.write(f"\n{label}: slowest queries of one request")
        for q in top:
            self.stdout.write(f"  {float(q['time']) * 1000:6.1f} ms  {q['sql'][:300]}")
        if not top or not top[0]["sql"].lstrip().upper().startswith("SELECT"):
            return
        with connection.cursor() as cur:
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {top[0]['sql']}")
            plan = "\n".join(f"    {r[0]}" for r in cur.fetchall())
        self.stdout.write(f"  EXPLAIN ANALYZE of the slowest:\n{plan}")
