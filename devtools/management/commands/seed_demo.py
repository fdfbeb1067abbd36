"""``python manage.py seed_demo``: the demo organizations, their team, customers and tickets.

The data lives in ``fixtures/demo/`` (JSON): the organizations and their teams (``organizations.json``),
the customers' names and companies (``people.json``), the ticket scripts of each organization
(``scripts_*.json``), the texts every conversation reuses (``conversations.json``), the reply templates,
shared views, channels and holidays (``workspace.json``). This command plays them through the services.

- "LumioDesk Demo" (slug ``demo``): LumioDesk's own support team answering its customers
  (invoices, password resets, widget, SLA, bugs, feature requests), ~300 tickets;
- "Atelier Nord" (slug ``atelier-nord``): a small furniture workshop, ~15 tickets, where
  admin@lumiodesk.test is also Admin (organization switching).

Every change goes through the real services (``crm.services``, ``tickets.services``), so
the rules hold: numbering, new -> open on the first reply, reopening on a customer reply,
customer notifications by preference, audit rows, search documents.

Deterministic: one ``random.Random`` per organization with a fixed seed, and every
timestamp relative to a fixed anchor (``--anchor``, default 2026-11-01 00:00 UTC). While a
ticket's script runs, ``django.utils.timezone.now`` is replaced by a clock set to the
scripted time of each step, so the services stamp created_at, updated_at,
status_changed_at, first_response_at, resolved_at, closed_at and the audit rows
consistently (messages after the ticket's creation, in order). Notification rows (whose
default is not looked up through the module) are dated afterwards with one bulk UPDATE.

No email leaves: the notification email task is not queued while seeding (the
notifications are stored as already emailed), so it works without a Celery worker.

Idempotent: an organization that already has its tickets is left alone.
"""

from __future__ import annotations

import json
import random
import time
import unicodedata
import zoneinfo
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from crm import budgets, rates
from crm.models import Budget, Company, Customer
from crm.rates import cost_of
from crm.services import get_or_create_customer
from devtools import billing_demo
from lumiodesk import notifications as agent_notifications
from lumiodesk import teams
from lumiodesk.models import Holiday, Membership, NotificationPreference, Organization, Role, Team
from lumiodesk.permissions import MemberActor, SystemActor
from sla.services import create_defaults, restamp_open_tickets
from tickets import notifications as customer_notifications
from tickets import services, tasks
from tickets.costs import alerts as cost_alerts
from tickets.costs import rollup as cost_rollup
from tickets.costs.models import TimeEntry
from tickets.models import (
    Channel,
    CustomerNotification,
    Message,
    MessageKind,
    Priority,
    ReplyTemplate,
    SavedView,
    Status,
    Tag,
    Ticket,
)
from tickets.replies import render_reply_template

User = get_user_model()

DEFAULT_ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
PASSWORD = "demo-lumiodesk"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SEED = 20261101
SEED_ACTOR = SystemActor("seed_demo")  # what the demo does without a named member

# --- the data: fixtures/demo/*.json ----------------------------------------------------------------------
# The people, the ticket scripts (what customers write about and how each conversation goes), the texts
# every conversation reuses, and the workspace (reply templates, shared views, channels, holidays) are
# data files; this module plays them through the services.

DEMO_DATA = Path(settings.BASE_DIR) / "fixtures" / "demo"


def load(name: str):
    """A data file of fixtures/demo/, without its ``_comment``."""
    with (DEMO_DATA / name).open(encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, dict):
        data.pop("_comment", None)
    return data


_PEOPLE = load("people.json")
FIRST_NAMES: list[str] = _PEOPLE["first_names"]
LAST_NAMES: list[str] = _PEOPLE["last_names"]
COMPANIES: list[str] = _PEOPLE["companies"]
PREFERENCES: list[list] = _PEOPLE["notification_preferences"]  # [value, weight]
CUSTOMER_PLANS: list[list] = _PEOPLE["customer_plans"]  # [plan name, weight]
PLAN_PRICES: dict[str, list[int]] = _PEOPLE["plan_prices"]  # monthly price, extra agent, exports
BROWSERS: list[str] = _PEOPLE["browsers"]
PROVIDERS: list[str] = _PEOPLE["providers"]
SITES: list[str] = _PEOPLE["sites"]

_TEXTS = load("conversations.json")
CUSTOMER_NUDGES: list[str] = _TEXTS["customer_nudges"]
CUSTOMER_THANKS: list[str] = _TEXTS["customer_thanks"]
CUSTOMER_STILL_BROKEN: list[str] = _TEXTS["customer_still_broken"]
GENERIC_ANSWERS: list[str] = _TEXTS["generic_answers"]
CUSTOMER_MORE: dict[str, list[str]] = _TEXTS["customer_more"]  # a customer reopening, by the first tag
FOLLOWUP_REPLY: str = _TEXTS["followup_reply"]
REOPEN_NOTES: list[str] = _TEXTS["reopen_notes"]
GENERIC_NOTES: list[str] = _TEXTS["generic_notes"]
ANSWER_ACK: str = _TEXTS["answer_ack"]
ESCALATE_NOTE: str = _TEXTS["escalate_note"]
ESCALATE_REPLY: str = _TEXTS["escalate_reply"]
CUSTOMER_CLOSINGS: list[str] = _TEXTS["customer_closings"]
AGENT_SIGNOFFS: list[str] = _TEXTS["agent_signoffs"]
SATISFACTION_COMMENTS: dict[int, list[str]] = {int(k): v for k, v in _TEXTS["satisfaction_comments"].items()}

_WORKSPACE = load("workspace.json")
_COSTS = load("costs.json")
REPLY_TEMPLATES: list[list[str]] = _WORKSPACE["reply_templates"]  # [name, body]
SHARED_VIEWS: list[list] = _WORKSPACE["shared_views"]  # [name, filters]
CHANNELS: list[list] = _WORKSPACE["channels"]  # [channel, weight]
HOLIDAYS: list[list] = _WORKSPACE["holidays"]  # [month, day, name]
SATISFACTION_SCORES: list[list[int]] = _WORKSPACE["satisfaction_scores"]  # [stars, weight]


@dataclass(frozen=True)
class OrgSpec:
    slug: str
    name: str
    plan: str
    team: list  # (email, first name, last name, role, share of the assigned tickets)
    scenarios: list[dict]
    tags: list[str]
    tickets: int
    customers: int
    companies: int
    status_weights: dict[str, int]
    signature: str
    with_views: bool
    days: int
    teams: tuple = ()  # Settings > Équipes: {name, description, members: [email]} (lumiodesk.teams)


def _org_spec(data: dict) -> OrgSpec:
    team = [(m["email"], m["first_name"], m["last_name"], m["role"], m["share"]) for m in data["team"]]
    scenarios = load(data["scripts"])["scripts"]
    fields = {k: v for k, v in data.items() if k not in ("team", "scripts")}
    return OrgSpec(team=team, scenarios=scenarios, **fields)


DEMO, NORD = (_org_spec(org) for org in load("organizations.json")["organizations"])
DEMO_SCENARIOS: list[dict] = DEMO.scenarios
NORD_SCENARIOS: list[dict] = NORD.scenarios
DEMO_TAGS: list[str] = DEMO.tags
NORD_TAGS: list[str] = NORD.tags


# --- the clock ---------------------------------------------------------------------------------------------


class Clock:
    """Stands in for ``django.utils.timezone.now`` while seeding: the services stamp the scripted time."""

    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@contextmanager
def scripted_time(clock: Clock, notifications: list[tuple[int, datetime]]):
    """Services run at ``clock.t``; notification emails are recorded, not queued (no worker needed, no spam)."""
    real_notify = customer_notifications.notify_customer

    def notify_customer(**kwargs):
        notification = real_notify(**kwargs)
        if notification is not None:
            notifications.append((notification.pk, clock.t))
        return notification

    with (
        mock.patch.object(timezone, "now", clock),
        mock.patch.object(customer_notifications, "notify_customer", notify_customer),
        mock.patch.object(tasks.send_customer_notification_email, "delay", lambda *a, **k: None),
        agent_notifications.muted(),  # the scripted history notifies no agent
    ):
        yield


# --- helpers -----------------------------------------------------------------------------------------------


class _Vars(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def _dates(start: datetime) -> dict[str, str]:
    """The dates a customer writes about, in French: last month's invoice ({month}, {of_month}), debited on
    the 1st of this one ({month_next}), a day one to two weeks before writing ({day}). No random draw: the
    rest of the demo stays as it was."""
    local = start.astimezone(PARIS)
    before = local - timedelta(days=7 + local.day % 8)
    month = MONTHS_FR[(local.month - 2) % 12]
    return {"month": month, "of_month": ("d'" if month[0] in "ao" else "de ") + month,  # d'août, de mars
            "month_next": MONTHS_FR[local.month - 1], "day": f"{before.day} {MONTHS_FR[before.month - 1]}"}


def ascii_slug(text: str, sep: str = ".") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = "".join(c if c.isalnum() else " " for c in plain)
    return sep.join(out.split())


def weighted(rng: random.Random, pairs) -> object:
    items, weights = zip(*pairs, strict=True)
    return rng.choices(items, weights=weights)[0]


@dataclass
class Step:
    minutes: float  # after the previous step
    op: str  # customer, reply, note, status, assign, tags, priority
    text: str = ""
    status: str = ""
    value: str = ""
    system: bool = False  # done by the lifecycle, not an agent


@dataclass
class TicketScript:
    scenario: dict
    subject: str
    opening: str
    status: str
    priority: str
    channel: str
    customer: Customer
    assignee: object | None
    assigner: object | None
    variables: dict
    steps: list[Step] = field(default_factory=list)
    start: datetime | None = None


class Command(BaseCommand):
    help = "Create the demo organizations (LumioDesk Demo, Atelier Nord), their team, customers and tickets."

    def add_arguments(self, parser):
        parser.add_argument("--anchor", default=DEFAULT_ANCHOR.date().isoformat(),
                            help="Date (YYYY-MM-DD, UTC) the demo data ends at, or 'today' (up to the current hour). "
                                 "Default: %(default)s.")
        parser.add_argument("--reset", action="store_true",
                            help="Delete the demo organizations (not the users) and seed them again.")

    def handle(self, *args, anchor: str, reset: bool, **options):
        started = time.monotonic()
        if anchor == "today":  # up to this hour: the dashboard's "today" has tickets created and resolved today
            anchor_at = timezone.now().replace(minute=0, second=0, microsecond=0)
        else:
            try:
                anchor_at = datetime.fromisoformat(anchor).replace(tzinfo=UTC)
            except ValueError as exc:
                raise CommandError(f"--anchor: expected YYYY-MM-DD or 'today', got {anchor!r}") from exc
        if reset:
            for spec in (DEMO, NORD):
                self._delete(spec.slug)

        results = []
        for spec in (DEMO, NORD):
            # Each organization is seeded in one transaction: if it has tickets, it has all its data
            # (plus whatever was done in the demo since, which is kept).
            org = Organization.objects.filter(slug=spec.slug).first()
            if org is not None and Ticket.objects.filter(organization=org).exists():
                self.stdout.write(f"{spec.name} ({spec.slug}) is already seeded: nothing to do "
                                  "(--reset to seed it again).")
                continue
            results.append(Seeder(spec, anchor_at).run())
        self._channels_and_knowledge_base()
        if not results:
            self.stdout.write(self.style.SUCCESS("The demo is already seeded."))
            return
        for summary in results:
            self.stdout.write(summary)
        logins = ", ".join(f"{who}@lumiodesk.test" for who in ("admin", "manager", "agent", "viewer"))
        self.stdout.write(self.style.SUCCESS(
            f"Demo seeded in {time.monotonic() - started:.1f} s. Logins (password {PASSWORD}): {logins}"
        ))

    def _channels_and_knowledge_base(self) -> None:
        """The demo's mailbox and knowledge base (both idempotent, also on an already seeded demo)."""
        from kb.services import import_lumiodesk_documentation
        from tickets.email.models import Mailbox

        demo = Organization.objects.filter(slug=DEMO.slug).first()
        if demo is None:
            return
        mailbox, created = Mailbox.objects.get_or_create(
            organization=demo, address="support@lumiodesk.test", defaults={"name": "Support LumioDesk"}
        )
        if created:
            self.stdout.write(f"Mailbox support@lumiodesk.test (forwarding address "
                              f"{mailbox.forwarding_address(settings.INBOUND_EMAIL_DOMAIN)}).")
        # The demo's own address is ours (a reserved .test domain): verified, so the SMTP receiver answers for it.
        from tickets.email.verification import verified_elsewhere

        if not mailbox.is_verified and not verified_elsewhere(mailbox):
            Mailbox.objects.filter(pk=mailbox.pk).update(address_verified_at=timezone.now())
        # The chat widget, allowed on localhost and 127.0.0.1 (any port) so it can be tried on a local page.
        from tickets.chat.models import ChatWidget
        from tickets.chat.services import create_widget

        if not ChatWidget.objects.filter(organization=demo).exists():
            widget = create_widget(organization=demo, actor=SEED_ACTOR, allowed_domains=["localhost", "127.0.0.1"])
            self.stdout.write(f"Chat widget (localhost, 127.0.0.1): <script src=\"{settings.SITE_URL}/widget.js\" "
                              f"data-workspace=\"{widget.workspace_id}\"></script>")
        result = import_lumiodesk_documentation(organization=demo, actor=SEED_ACTOR)
        self.stdout.write(
            f"Knowledge base: {result.created} articles created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.kept} edited by the team and kept."
        )
        # automations: the four examples of section 7 as active rules (idempotent: by name).
        from automations.services import install_section7_examples

        rules = install_section7_examples(organization=demo, actor=SEED_ACTOR)
        self.stdout.write(f"Automations: {len(rules)} example rules of section 7 created.")

    def _delete(self, slug: str) -> None:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            return
        with transaction.atomic():
            Ticket.objects.filter(organization=org).delete()  # customers are PROTECTed by their tickets
            org.delete()
        self.stdout.write(f"Deleted organization {slug}.")


class Seeder:
    def __init__(self, spec: OrgSpec, anchor: datetime):
        self.spec = spec
        self.anchor = anchor
        self.rng = random.Random(f"{SEED}-{spec.slug}")
        self.clock = Clock(anchor - timedelta(days=spec.days + 15))
        self.notifications: list[tuple[int, datetime]] = []

    # -- the whole organization, in one transaction ---------------------------------------------------------

    def run(self) -> str:
        with scripted_time(self.clock, self.notifications), transaction.atomic():
            self._setup()
            plans = [self._plan_ticket(status) for status in self._statuses()]
            for plan in plans:
                self._schedule(plan)
            plans.sort(key=lambda p: p.start)  # numbers follow creation order
            tickets = [self._play(plan) for plan in plans]
            self._satisfaction_ratings(tickets)  # tickets.portal: customers rate some resolved tickets
            if self.spec.slug == DEMO.slug:  # billing: two refunds awaiting approval (45 and 180 EUR)
                billing_demo.pending_refunds(self.org, tickets[-2:])
            self._date_notifications()
            services.refresh_search_document([t.pk for t in tickets])
        restamp_open_tickets(self.org.pk, past_alerts=False)  # old overdue tickets shown, not notified
        if self.spec.slug == DEMO.slug:
            with transaction.atomic():
                self._costs()
        return self._summary()

    def _setup(self) -> None:
        spec, rng = self.spec, self.rng
        org = Organization.objects.filter(slug=spec.slug).first()
        if org is None:
            org = Organization.objects.create(name=spec.name, slug=spec.slug, language="fr",
                                              time_zone="Europe/Paris", plan=spec.plan)
        self.org = org
        create_defaults(org.pk)  # Mon–Fri 9:00–18:00 and the section 13 policies (idempotent)
        Holiday.objects.bulk_create(
            [
                Holiday(organization=org, date=date(y, m, d), name=n)
                for y in (self.anchor.year, self.anchor.year + 1)
                for (m, d, n) in HOLIDAYS
            ],
            ignore_conflicts=True,
        )
        password = make_password(PASSWORD)
        self.members = []
        self.actors: dict[int, MemberActor] = {}
        for email, first, last, role, share in spec.team:
            user = User.objects.filter(username=email).first()
            if user is None:
                user = User.objects.create(username=email, email=email, first_name=first, last_name=last,
                                           password=password, date_joined=self.clock.t)
            elif not (user.first_name and user.last_name):
                user.first_name, user.last_name = user.first_name or first, user.last_name or last
                user.save(update_fields=["first_name", "last_name"])
            membership, _created = Membership.objects.get_or_create(organization=org, user=user,
                                                                    defaults={"role": role})
            self.actors[user.pk] = MemberActor(membership)
            self.members.append((user, role, share))
        self.manager = next((u for u, r, _s in self.members if r == Role.MANAGER),
                            next(u for u, r, _s in self.members if r == Role.ADMIN))
        NotificationPreference.objects.get_or_create(
            organization=org, user=self.manager, kind="daily_digest", defaults={"in_app": True, "email": True}
        )
        self.workers = [(u, s) for u, r, s in self.members if r != Role.VIEWER and s]
        self._teams()
        # billing: Demo on Business with its invoices, Nord in trial (before any member acts)
        billing_demo.subscribe(org, business=spec.slug == DEMO.slug, created=self.clock.t, anchor=self.anchor)
        Tag.objects.bulk_create([Tag(organization=org, name=n) for n in spec.tags], ignore_conflicts=True)

        # CRM: companies and customers, "imported" before the first ticket.
        companies = []
        for name in rng.sample(COMPANIES, spec.companies):
            company = Company.objects.filter(organization=org, name__iexact=name).first()
            companies.append(company or Company.objects.create(organization=org, name=name))
        self.customers = []
        used: set[str] = set()
        for _i in range(spec.customers):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{ascii_slug(first)}.{ascii_slug(last)}"
            while local in used:
                local = f"{ascii_slug(first)}.{ascii_slug(last)}{rng.randint(2, 99)}"
            used.add(local)
            company = rng.choice(companies) if companies and rng.random() < 0.78 else None
            email = f"{local}@{rng.choice(['example.fr', 'example.fr', 'example.com'])}"
            self.clock.t += timedelta(minutes=rng.randint(5, 90))
            customer = get_or_create_customer(organization=org, email=email, name=f"{first} {last}",
                                              company_name=company.name if company else "")
            customer.phone = f"0{rng.choice([1, 2, 3, 4, 5, 6, 7])} " + " ".join(
                f"{rng.randint(0, 99):02d}" for _ in range(4))
            customer.notification_preference = weighted(rng, PREFERENCES)
            if spec.slug == DEMO.slug:
                customer.attributes = {"plan": weighted(rng, CUSTOMER_PLANS)}
            customer.save(update_fields=["phone", "notification_preference", "attributes"])
            self.customers.append(customer)
        # A few customers write often, most once or twice.
        self.customer_weights = [1 / (i + 2) ** 0.8 for i in range(len(self.customers))]

        if spec.with_views:
            for name, body in REPLY_TEMPLATES:
                if not ReplyTemplate.objects.filter(organization=org, name__iexact=name).exists():
                    services.save_reply_template(organization=org, name=name, body=body,
                                                 actor=self._as(self.manager))
            for name, filters in SHARED_VIEWS:
                if not SavedView.objects.filter(organization=org, name__iexact=name).exists():
                    services.save_view(organization=org, name=name, filters=filters, actor=self._as(self.manager))

    def _teams(self) -> None:
        """The organization's teams (idempotent: by name), so the dashboard shows per-team figures at once."""
        by_email = {user.email: self.actors[user.pk].membership.pk for user, _r, _s in self.members}
        for wanted in self.spec.teams:
            team = Team.objects.filter(organization=self.org, name__iexact=wanted["name"]).first()
            if team is None:
                team = teams.create_team(actor=SEED_ACTOR, organization=self.org, name=wanted["name"],
                                         description=wanted.get("description", ""))
            teams.set_team_members(actor=SEED_ACTOR, organization=self.org, team_id=team.pk,
                                   membership_ids=[by_email[email] for email in wanted["members"]])

    # -- planning a ticket ----------------------------------------------------------------------------------

    def _statuses(self) -> list[str]:
        """Exactly the share of each status (largest remainder), in random order."""
        weights, n = self.spec.status_weights, self.spec.tickets
        total = sum(weights.values())
        counts = {s: w * n // total for s, w in weights.items()}
        by_remainder = sorted(weights, key=lambda s: -(weights[s] * n % total))
        for s in by_remainder[: n - sum(counts.values())]:
            counts[s] += 1
        statuses = [s for s, c in counts.items() for _ in range(c)]
        self.rng.shuffle(statuses)
        return statuses

    def _plan_ticket(self, status: str) -> TicketScript:
        rng, spec = self.rng, self.spec
        while True:
            scenario = weighted(rng, [(s, s["weight"]) for s in spec.scenarios])
            if scenario.get("spam") and status not in (Status.CLOSED, Status.NEW):
                continue
            if scenario.get("feature") and status in (Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL):
                continue
            break
        customer = rng.choices(self.customers, weights=self.customer_weights)[0]
        subject, opening = rng.choice(scenario["variants"])
        priority = weighted(rng, scenario["priority"].items())
        if scenario.get("urgent_share") and rng.random() < scenario["urgent_share"]:
            priority = Priority.URGENT
        channel = weighted(rng, CHANNELS)
        assignee = weighted(rng, self.workers)
        assigner = self.manager if rng.random() < 0.6 else assignee
        plan = TicketScript(scenario=scenario, subject=subject, opening=opening, status=status, priority=priority,
                     channel=channel, customer=customer, assignee=assignee, assigner=assigner,
                     variables=self._variables(customer, assignee))
        plan.steps = self._steps(plan)
        return plan

    def _variables(self, customer: Customer, assignee) -> _Vars:
        rng = self.rng
        plan = (customer.attributes or {}).get("plan", "Business")
        price, extra, exports = PLAN_PRICES[plan]
        company = customer.company.name if customer.company_id else ""
        slug = ascii_slug(company or customer.last_name, "-") or "boutique"
        colleagues = [u for u, _s in self.workers if u != assignee]
        return _Vars(
            plan=plan, price=price, extra=extra, exports=exports, amount=price + extra * rng.choice([1, 2, 3]),
            invoice=f"F-2026-{rng.randint(1000, 9999)}",
            vat=f"FR{rng.randint(10, 99)}{rng.randint(100000000, 999999999)}",
            last4=f"{rng.randint(0, 9999):04d}", email=customer.email, company_or_name=company or customer.full_name,
            colleague=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            colleague_agent=rng.choice(colleagues).first_name if colleagues else "l'équipe",
            site=rng.choice(SITES).format(slug=slug), browser=rng.choice(BROWSERS), provider=rng.choice(PROVIDERS),
            support_address=f"support@{slug}.fr", hour=rng.randint(7, 11), hour2=rng.randint(14, 17),
            n=rng.randint(1200, 9800), agents=rng.choice([4, 6, 8, 12, 15, 25]),
            order=f"AN-{rng.randint(10200, 10999)}", tracking=f"6A{rng.randint(10**9, 10**10 - 1)}",
            phone="06 " + " ".join(f"{rng.randint(10, 99)}" for _ in range(4)),
            approver="validation Manager suffisante (moins de 100 EUR)" if price < 100
            else "validation Admin obligatoire (100 EUR ou plus)",
        )

    def _steps(self, plan: TicketScript) -> list[Step]:
        """The conversation leading to the ticket's final status; every rule is applied by the services."""
        rng, sc, status = self.rng, plan.scenario, plan.status
        first_reply = {Priority.URGENT: (5, 25), Priority.HIGH: (15, 120), Priority.NORMAL: (30, 360),
                       Priority.LOW: (60, 1200)}[plan.priority]

        def agent(lo_hi=(20, 480)) -> float:
            return rng.uniform(*lo_hi)

        def customer() -> float:
            return rng.uniform(40, 1800)

        steps: list[Step] = []
        if sc.get("spam"):
            if status == Status.CLOSED:
                steps.append(Step(agent((10, 240)), "status", status=Status.CLOSED))
            return steps

        def triage(assign: bool = True) -> None:
            delay = agent((2, 45))
            if assign:
                steps.append(Step(delay, "assign"))
                delay = 0.2
            if sc["tags"] and rng.random() < 0.9:
                steps.append(Step(delay, "tags"))
            if plan.priority == Priority.NORMAL and sc["key"] in ("widget", "email_intake") and rng.random() < 0.3:
                steps.append(Step(0.5, "priority", value=Priority.HIGH))

        has_ask = bool(sc.get("ask"))
        answer = sc.get("answer") or rng.choice(GENERIC_ANSWERS)

        def ask_flow(then: str = Status.WAITING_CUSTOMER) -> None:
            steps.append(Step(agent(first_reply), "reply", text=sc["ask"] if has_ask else "ack", status=then))

        def solve(then: str = Status.RESOLVED) -> None:
            if sc.get("note") and rng.random() < 0.3:
                steps.append(Step(agent((10, 240)), "note", text=sc["note"]))
            steps.append(Step(agent((20, 600)), "reply", text=sc["solution"], status=then))

        if status == Status.NEW:
            if rng.random() < 0.2:
                triage()
            if rng.random() < 0.3:
                steps.append(Step(customer(), "customer", text=rng.choice(CUSTOMER_NUDGES)))
            if rng.random() < 0.15:
                steps.append(Step(agent((5, 60)), "note", text=sc.get("note") or rng.choice(GENERIC_NOTES)))
        elif status == Status.OPEN:
            triage(assign=rng.random() > 0.15)  # a few stay unassigned
            variant = rng.random()
            if variant < 0.45 or (sc.get("feature") and not has_ask):
                steps.append(Step(agent(first_reply), "reply", text="ack"))
                if rng.random() < 0.5:
                    steps.append(Step(customer(), "customer", text=answer))
                if rng.random() < 0.4:
                    steps.append(Step(agent((10, 240)), "note", text=sc.get("note") or rng.choice(GENERIC_NOTES)))
            elif variant < 0.75 and has_ask:
                ask_flow()
                steps.append(Step(customer(), "customer", text=answer))  # reopens: waiting_customer -> open
                if rng.random() < 0.4:
                    steps.append(Step(agent((10, 120)), "reply", text=ANSWER_ACK))
            elif not sc.get("feature"):
                steps.append(Step(agent(first_reply), "reply", text=sc["solution"], status=Status.RESOLVED))
                reopen = CUSTOMER_MORE.get((sc["tags"] or [""])[0], CUSTOMER_MORE[""])
                steps.append(Step(customer(), "customer", text=rng.choice(reopen)))  # reopens
                steps.append(Step(agent((10, 180)), "note", text=rng.choice(REOPEN_NOTES)))
        elif status == Status.WAITING_CUSTOMER:
            triage()
            if rng.random() < 0.35:
                steps.append(Step(agent(first_reply), "reply", text="ack"))
                if rng.random() < 0.5:
                    steps.append(Step(agent((10, 120)), "note", text=sc.get("note") or rng.choice(GENERIC_NOTES)))
                steps.append(Step(agent((60, 600)), "reply", text=sc["ask"] if has_ask else "ask_template",
                                  status=Status.WAITING_CUSTOMER))
            else:
                ask_flow()
        elif status == Status.WAITING_INTERNAL:
            triage()
            if rng.random() < 0.4 and has_ask:
                ask_flow()
                steps.append(Step(customer(), "customer", text=answer))
            steps.append(Step(agent((10, 240)), "note", text=sc.get("escalate_note") or ESCALATE_NOTE))
            steps.append(Step(agent((2, 30)), "reply", status=Status.WAITING_INTERNAL,
                              text=sc.get("escalate_reply") or ESCALATE_REPLY))
            if rng.random() < 0.25:
                steps.append(Step(customer(), "customer", text=rng.choice(CUSTOMER_NUDGES)))
        elif status == Status.RESOLVED:
            triage()
            if has_ask and rng.random() < 0.5:
                ask_flow()
                steps.append(Step(customer(), "customer", text=answer))
            solve()
        elif status == Status.CLOSED:
            triage()
            variant = rng.random()
            if variant < 0.2 and has_ask:  # no answer: follow-up, then closed (support guide 002)
                ask_flow()
                steps.append(Step(3 * 1440 + agent((0, 120)), "reply", text=FOLLOWUP_REPLY))
                steps.append(Step(4 * 1440 + agent((0, 120)), "reply", text="close_template", status=Status.CLOSED))
            else:
                if has_ask and rng.random() < 0.45:
                    ask_flow()
                    steps.append(Step(customer(), "customer", text=answer))
                solve()
                if rng.random() < 0.45 and not sc.get("feature"):
                    steps.append(Step(customer(), "customer", text=rng.choice(CUSTOMER_THANKS)))  # reopens
                    steps.append(Step(agent((5, 120)), "status", status=Status.CLOSED))
                else:  # closed by the lifecycle, 7 days after resolution
                    days = self.org.auto_close_resolved_days
                    steps.append(Step(days * 1440 + rng.uniform(1, 10), "status", status=Status.CLOSED, system=True))
        return steps

    def _schedule(self, plan: TicketScript) -> None:
        """Place the ticket in time so that its final status is consistent at the anchor date."""
        rng, anchor = self.rng, self.anchor
        total = timedelta(minutes=sum(s.minutes for s in plan.steps))
        hours = {
            Status.NEW: (0.2, 60) if rng.random() > 0.15 else (72, 288),
            Status.OPEN: (0.5, 190),
            Status.WAITING_CUSTOMER: (1, 68),  # before the first follow-up (3 days)
            Status.WAITING_INTERNAL: (1, 210),
            Status.RESOLVED: (1, 155),  # before the auto-close (7 days)
            Status.CLOSED: (24, self.spec.days * 24),
        }[plan.status]
        end_lo, end_hi = anchor - timedelta(hours=hours[1]), anchor - timedelta(hours=hours[0])
        lo, hi = end_lo - total, end_hi - total
        floor = anchor - timedelta(days=self.spec.days)
        lo = max(lo, floor)
        if hi < lo:
            hi = lo
        start = lo + (hi - lo) * rng.random()
        # Customers mostly write during the day (Paris time).
        local = start.astimezone(PARIS)
        if not 8 <= local.hour < 20:
            day = local.replace(hour=rng.randint(8, 19), minute=rng.randint(0, 59))
            for candidate in (day, day - timedelta(days=1)):
                c = candidate.astimezone(UTC)
                if lo <= c <= hi:
                    start = c
                    break
        plan.start = start.replace(microsecond=0) + timedelta(seconds=rng.randint(0, 59))

    # -- playing it through the services -------------------------------------------------------------------

    def _play(self, plan: TicketScript) -> Ticket:
        rng, org, clock = self.rng, self.org, self.clock
        clock.t = plan.start
        customer = plan.customer
        v = plan.variables
        v.update(_dates(plan.start))
        subject = plan.subject.format_map(v)
        v["subject"] = subject
        actor = self._as(plan.assignee if plan.channel == Channel.MANUAL else None)
        tags = plan.scenario["tags"] if plan.channel in (Channel.FORM, Channel.API) and rng.random() < 0.5 else ()
        ticket = services.create_ticket(
            organization=org, customer=customer, subject=subject,
            body=self._customer_text(plan.opening.format_map(v), customer, plan.channel),
            channel=plan.channel, priority=plan.priority, actor=actor, tags=tags, created_at=clock.t,
        )
        for step in plan.steps:
            clock.t = clock.t + timedelta(minutes=step.minutes)
            author = plan.assignee
            if step.op == "assign":
                ticket = services.assign(ticket=ticket, assignee=plan.assignee, actor=self._as(plan.assigner))
            elif step.op == "tags":
                ticket = services.set_tags(ticket=ticket, names=plan.scenario["tags"], actor=self._as(author))
            elif step.op == "priority":
                ticket = services.set_priority(ticket=ticket, priority=step.value, actor=self._as(author))
            elif step.op == "customer":
                services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, created_at=clock.t,
                                     body=self._customer_text(step.text.format_map(v), customer, plan.channel))
            elif step.op == "note":
                services.add_message(ticket=ticket, kind=MessageKind.NOTE, actor=self._as(author),
                                     body=step.text.format_map(v), created_at=clock.t)
            elif step.op == "reply":
                body = self._agent_text(step.text, ticket, author, v)
                services.add_message(ticket=ticket, kind=MessageKind.REPLY, actor=self._as(author), body=body,
                                     then_status=step.status or None, created_at=clock.t)
            elif step.op == "status":
                services.change_status(ticket=ticket, status=step.status,
                                       actor=self._as(None if step.system else author),
                                       reason="auto_close_resolved" if step.system else "manual")
            ticket.refresh_from_db()
        if ticket.status != plan.status:  # the services decide; the script must agree with them
            raise CommandError(f"ticket #{ticket.number}: scripted {plan.status}, got {ticket.status}")
        return ticket

    def _customer_text(self, body: str, customer: Customer, channel: str) -> str:
        if channel == Channel.CHAT:
            return body
        closing = self.rng.choice(CUSTOMER_CLOSINGS)
        signature = customer.full_name
        if customer.company_id:
            signature += f"\n{customer.company.name}"
        return f"Bonjour,\n\n{body}\n\n{closing}\n{signature}"

    def _as(self, user) -> MemberActor | SystemActor:
        """The member acting in the script (the system when nobody is named)."""
        return SEED_ACTOR if user is None else self.actors[user.pk]

    def _agent_text(self, key: str, ticket: Ticket, agent, v: _Vars) -> str:
        templates = {name: body for name, body in REPLY_TEMPLATES}
        if key == "ack":
            return render_reply_template(templates["Réponse initiale"], ticket=ticket, agent=agent).replace(
                "Équipe support LumioDesk", self.spec.signature)
        if key == "ask_template":
            return render_reply_template(templates["Demande d'informations"], ticket=ticket, agent=agent)
        if key == "close_template":
            return render_reply_template(templates["Fermeture sans réponse"], ticket=ticket, agent=agent)
        signoff = self.rng.choice(AGENT_SIGNOFFS)
        first = ticket.customer.first_name or ticket.customer.display_name
        return f"Bonjour {first},\n\n{key.format_map(v)}\n\n{signoff}\n{agent.first_name}\n{self.spec.signature}"

    def _satisfaction_ratings(self, tickets: list[Ticket]) -> None:
        """About 60 % of resolved and closed tickets rated (1-5 stars, a few comments), a few hours after
        resolution, through the rating service (stored against the assignee). Own random stream: the rest
        of the demo stays the same."""
        from tickets.portal.satisfaction import rate_ticket

        rng = random.Random(f"{SEED}-{self.spec.slug}-csat")
        for ticket in tickets:
            if ticket.status not in (Status.RESOLVED, Status.CLOSED) or ticket.resolved_at is None:
                continue
            if rng.random() >= 0.6:
                continue
            at = min(ticket.resolved_at + timedelta(minutes=rng.randint(30, 2 * 1440)), self.anchor)
            if at <= ticket.resolved_at:
                continue
            score = weighted(rng, SATISFACTION_SCORES)
            self.clock.t = at
            rate_ticket(ticket=ticket, customer=ticket.customer, score=score,
                        comment=rng.choice(SATISFACTION_COMMENTS[score]), now=at)

    def _date_notifications(self) -> None:
        """Notification rows take their default time from the real clock: date them, mark them as sent/read."""
        if not self.notifications:
            return
        rows = [(pk, at) for pk, at in self.notifications]
        read = {pk for pk, _at in rows if self.rng.random() < 0.6}
        values = ", ".join(["(%s, %s::timestamptz, %s)"] * len(rows))
        params: list = []
        for pk, at in rows:
            params += [pk, at, pk in read]
        with connection.cursor() as cur:
            cur.execute(
                f"""UPDATE tickets_customernotification n SET created_at = v.at,
                        emailed_at = CASE WHEN n.email THEN v.at + interval '1 minute' END,
                        read_at = CASE WHEN n.web AND v.read THEN v.at + interval '3 hours' END
                    FROM (VALUES {values}) AS v(id, at, read) WHERE n.id = v.id""",
                params,
            )

    # -- the cost of support: hourly costs, time on the tickets, budgets (fixtures/demo/costs.json) ------------

    def _costs(self) -> None:
        """Hourly costs with one raise, months of time entries on the worked tickets (costed at the rate in
        force on their date), quarterly budgets of the costliest companies (under, ~85 %, over) and a monthly
        budget of a customer; the budget alerts they deserve reach the Managers."""
        spec, rng, org = _COSTS, random.Random(f"{SEED}-costs-{self.spec.slug}"), self.org
        last_day = (self.anchor - timedelta(days=1)).date()
        raised_on = last_day - timedelta(days=spec["raise_days_before"])
        since = last_day - timedelta(days=365)
        schedule: dict[int, list[tuple[date, Decimal]]] = {}
        for user, role, _share in self.members:
            if role == Role.VIEWER:
                continue
            before, after = spec["rates"].get(user.email, spec["rates"]["*"])
            for day, amount in ((since, before), (raised_on, after)):
                rates.set_rate(actor=SEED_ACTOR, organization=org, user=user, amount=amount, effective_from=day)
            schedule[user.pk] = [(raised_on, Decimal(after)), (since, Decimal(before))]

        def rate(user_id: int, day: date) -> Decimal:
            return next((amount for start, amount in schedule[user_id] if start <= day), Decimal(0))

        entries = []
        worked = (Ticket.objects.filter(organization=org, assignee__isnull=False).exclude(status=Status.NEW)
                  .select_related("customer").order_by("number"))
        for ticket in worked:
            if ticket.assignee_id not in schedule:
                continue
            start = ticket.created_at.date()
            end = min((ticket.resolved_at or ticket.updated_at).date(), last_day)
            for _ in range(rng.randint(1, spec["entries_max"])):
                day = start + timedelta(days=rng.randint(0, max((end - start).days, 0)))
                minutes = rng.choice(spec["minutes"])
                amount = rate(ticket.assignee_id, day)
                entries.append(TimeEntry(organization=org, ticket=ticket, user_id=ticket.assignee_id, date=day,
                                         minutes=minutes, rate=amount, cost=cost_of(minutes, amount),
                                         note=rng.choice(["", "", "Analyse", "Appel client", "Recherche"])))
        TimeEntry.objects.bulk_create(entries, batch_size=1000)
        cost_rollup.rebuild(org.pk)  # written in bulk: the monthly rollup is computed once

        # Budgets on the demo's last month, its costliest companies first; a customer's on the quarter.
        q_start, q_end = budgets.period_bounds("month", last_day)
        spent = (TimeEntry.objects.filter(organization=org, date__gte=q_start, date__lt=q_end,
                                          ticket__customer__company__isnull=False)
                 .values("ticket__customer__company").annotate(total=Sum("cost")).order_by("-total"))
        elapsed = Decimal((last_day - q_start).days + 1) / Decimal((q_end - q_start).days)
        for row, target in zip(spent, spec["budgets"], strict=False):
            company = Company.objects.get(pk=row["ticket__customer__company"])
            if "forecast_share" in target:  # under budget even at the pace so far
                amount = row["total"] / elapsed / Decimal(str(target["forecast_share"]))
            else:  # this share of the budget already spent
                amount = row["total"] / Decimal(str(target["consumption"]))
            amount = amount.quantize(Decimal("1"))
            budgets.save_budget(actor=SEED_ACTOR, organization=org, period="month", day=last_day,
                                amount=amount, company=company)
        m_start, m_end = budgets.period_bounds("quarter", last_day)
        top = (TimeEntry.objects.filter(organization=org, date__gte=m_start, date__lt=m_end)
               .values("ticket__customer").annotate(total=Sum("cost")).order_by("-total").first())
        if top:
            amount = (top["total"] / Decimal(str(spec["customer_budget_consumption"]))).quantize(Decimal("1"))
            budgets.save_budget(actor=SEED_ACTOR, organization=org, period="quarter", day=last_day, amount=amount,
                                customer=Customer.objects.get(pk=top["ticket__customer"]))
        for budget in Budget.objects.filter(organization=org).select_related("company", "customer"):
            ticket = (Ticket.objects.filter(organization=org, customer__company=budget.company) if budget.company_id
                      else Ticket.objects.filter(organization=org, customer=budget.customer)).first()
            if ticket is not None:
                cost_alerts.check_ticket(ticket, last_day, today=last_day)

    def _summary(self) -> str:
        org = Organization.objects.get(pk=self.org.pk)
        tickets = Ticket.objects.filter(organization=org)
        by = {f: Counter(tickets.values_list(f, flat=True)) for f in ("status", "priority", "channel")}
        messages = Counter(Message.objects.filter(organization=org).values_list("kind", flat=True))
        fmt = lambda c: ", ".join(f"{k} {n}" for k, n in sorted(c.items(), key=lambda kv: -kv[1]))  # noqa: E731
        return (
            f"{org.name} ({org.slug}, {org.plan}): {len(self.members)} members, "
            f"{Company.objects.filter(organization=org).count()} companies, "
            f"{Customer.objects.filter(organization=org).count()} customers, {tickets.count()} tickets "
            f"(#1-#{org.last_ticket_number})\n"
            f"  status: {fmt(by['status'])}\n  priority: {fmt(by['priority'])}\n  channel: {fmt(by['channel'])}\n"
            f"  messages: {sum(messages.values())} ({fmt(messages)}), notifications: "
            f"{CustomerNotification.objects.filter(organization=org).count()}"
        )

