"""``make bench`` for automations (``manage.py automation_bench``), in a database whose name contains "bench".

1. **100 active rules against a ticket event** (target: under 5 ms). An organization "Automation bench" on
   Scale has 100 active rules of every kind of condition; a ticket event loads them (one query) and
   evaluates them: when none matches, and when 2 match and run their actions (add a tag, raise the
   priority, with the journal). Also the cost the rules add to creating a ticket.
2. **The time-rule scan over 1,000,000 tickets** (target: under 2 s). An organization "Automation bench
   1M" gets 1,000,000 tickets in one ``INSERT ... SELECT generate_series`` (reused by the next runs), in
   every status, their status changes spread over 180 days, and 4 time rules (New 2 business hours ->
   notify the managers; waiting internal 8 business hours -> tag; waiting on the customer 1 business day ->
   internal note; open 3 business days -> priority high). Steady state: the scan has kept up, and between
   two scans 100 tickets cross a delay (25 per rule). Each run times the whole scan, the rules' actions
   included (emails are not queued: no broker round trip), then an idle scan.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from automations import engine, services, timerules
from automations.models import AutomationRule, AutomationRun, TimeRuleEpisode, Trigger
from crm.models import Customer
from lumiodesk import notifications
from lumiodesk.models import Membership, Organization, Plan, Role
from lumiodesk.permissions import SystemActor
from sla.business_time import subtract_target
from sla.config import sla_config
from tickets import services as tickets
from tickets.models import Status, Ticket

EVENT_TARGET_MS = 5
SCAN_TARGET_MS = 2000
RULES_SLUG, SCAN_SLUG = "automation-bench", "automation-bench-1m"
PER_RULE = 25

BENCH = SystemActor("automations bench")


def _p95(values: list[float]) -> float:
    return sorted(values)[max(math.ceil(0.95 * len(values)) - 1, 0)]


def _verdict(value: float, target: float) -> str:
    return "PASS" if value < target else "FAIL"


def _refuse_unless_bench() -> None:
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'bench'.")


def _org(slug: str, name: str) -> tuple[Organization, list[int]]:
    org, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": name, "plan": Plan.SCALE})
    User = get_user_model()
    team = []
    for i, role in enumerate((Role.MANAGER, Role.MANAGER, Role.AGENT)):
        user, _ = User.objects.get_or_create(username=f"{slug}-{i}@bench.test",
                                             defaults={"email": f"{slug}-{i}@bench.test", "first_name": f"B{i}"})
        Membership.objects.get_or_create(organization=org, user=user, defaults={"role": role})
        team.append(user.pk)
    return org, team


# --- 1. rules against an event -----------------------------------------------------------------------------------


def _hundred_rules(org: Organization, agent_id: int) -> None:
    AutomationRule.objects.filter(organization=org).delete()
    kinds = [
        lambda i: [{"field": "subject", "op": "contains", "value": f"sujet-{i}"}],
        lambda i: [{"field": "text", "op": "contains", "value": f"mot-clé {i}"}],
        lambda i: [{"field": "tag", "op": "has", "value": f"tag-{i}"}, {"field": "priority", "op": "is",
                                                                        "value": "urgent"}],
        lambda i: [{"field": "customer", "key": "plan", "op": "equals", "value": f"Plan {i}"}],
        lambda i: [{"field": "channel", "op": "is", "value": "chat"}, {"field": "status", "op": "is",
                                                                      "value": "waiting_internal"}],
        lambda i: [{"field": "assignee", "op": "is", "value": agent_id}, {"field": "subject", "op": "contains",
                                                                         "value": f"client {i}"}],
    ]
    rows = [
        AutomationRule(organization=org, name=f"Règle {i:03d}", position=i, is_active=True,
                       events=[Trigger.CREATED, Trigger.UPDATED, Trigger.CUSTOMER_REPLIED],
                       conditions=kinds[i % len(kinds)](i), actions=[{"type": "add_tag", "tag": f"r{i}"}])
        for i in range(98)
    ]
    # The two that match the bench ticket: the first two examples of section 7.
    rows.append(AutomationRule(organization=org, name="Facturation", position=98, events=[Trigger.UPDATED],
                               conditions=[{"field": "subject", "op": "contains", "value": "facture"}],
                               actions=[{"type": "add_tag", "tag": "facturation"}]))
    rows.append(AutomationRule(organization=org, name="Enterprise", position=99, events=[Trigger.UPDATED],
                               conditions=[{"field": "customer", "key": "plan", "op": "equals",
                                            "value": "Enterprise"}],
                               actions=[{"type": "set_priority", "priority": "high"}]))
    AutomationRule.objects.bulk_create(rows)


def _time_one(fn, runs: int, setup=None) -> list[float]:
    out = []
    for _ in range(runs):
        with transaction.atomic():
            arg = setup() if setup else None
            t0 = time.perf_counter()
            fn(arg) if setup else fn()
            out.append((time.perf_counter() - t0) * 1000)
            transaction.set_rollback(True)  # every run sees the same ticket
    return out


def bench_event(*, runs: int, out) -> dict:
    org, (manager, _m2, agent) = _org(RULES_SLUG, "Automation bench")
    _hundred_rules(org, agent)
    plain, _ = Customer.objects.get_or_create(organization=org, email="plain@bench.test",
                                              defaults={"attributes": {"plan": "Business"}})
    vip, _ = Customer.objects.get_or_create(organization=org, email="vip@bench.test",
                                            defaults={"attributes": {"plan": "Enterprise"}})
    with transaction.atomic(), engine.running():  # created without running the rules
        other = tickets.create_ticket(organization=org, customer=plain, subject="Livraison en retard",
                                      body="Bonjour, le colis n'est pas arrivé.", actor=BENCH)
        billing = tickets.create_ticket(organization=org, customer=vip, subject="Question sur ma facture",
                                        body="Le montant ne correspond pas.", actor=BENCH)
    assert AutomationRule.objects.filter(organization=org, is_active=True).count() == 100
    def load(pk):
        # The service's copy of the ticket, which the event carries (read before the timer starts).
        return lambda: Ticket.objects.select_related("organization", "customer", "customer__company").get(pk=pk)

    def event(ticket):
        # What a ticket event costs automations: the rules read when the change is made (scheduling), then
        # their evaluation after the commit, with the actions and the journal of those that match.
        rules = engine.rules_for(ticket.organization, Trigger.UPDATED)
        return engine.evaluate_event(ticket, Trigger.UPDATED, rules=rules)

    def match_only(ticket):
        rules = engine.rules_for(ticket.organization, Trigger.UPDATED)
        facts = engine.Facts(ticket, now=timezone.now())
        return [r for r in rules if engine.rule_matches(r, facts)]

    results = {}
    for label, fn, pk in (("none match", event, other.pk), ("2 match", match_only, billing.pk),
                          ("2 match and act", event, billing.pk)):
        _time_one(fn, 10, setup=load(pk))  # warm-up
        timings = _time_one(fn, runs, setup=load(pk))
        results[label] = {"median_ms": statistics.median(timings), "p95_ms": _p95(timings)}
    with transaction.atomic():
        matched = event(load(billing.pk)())
        transaction.set_rollback(True)
    assert [r.rule_name for r in matched] == ["Facturation", "Enterprise"], matched

    def create():
        tickets.create_ticket(organization=org, customer=plain, subject="Bench", body="Bonjour", actor=BENCH)

    with_rules = _time_one(create, runs)
    AutomationRule.objects.filter(organization=org).update(is_active=False)
    without = _time_one(create, runs)
    AutomationRule.objects.filter(organization=org).update(is_active=True)
    results["creation"] = {"with_ms": statistics.median(with_rules), "without_ms": statistics.median(without)}

    out(f"\nAutomation rules: 100 active rules against one ticket event ({runs} runs, each in a rolled-back "
        "transaction; read the rules, evaluate them in order, with the queries the conditions need):")
    for label in ("none match", "2 match"):
        r = results[label]
        out(f"  {label:16} median {r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms "
            f"(target {EVENT_TARGET_MS} ms): {_verdict(r['p95_ms'], EVENT_TARGET_MS)}")
    r = results["2 match and act"]
    out(f"  2 match and act: median {r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms: the same, plus the two actions "
        "through tickets.services (set_tags, set_priority with its SLA restamp and audit rows) and the journal")
    c = results["creation"]
    out(f"  creating a ticket: median {c['with_ms']:.1f} ms with the 100 rules on creation, "
        f"{c['without_ms']:.1f} ms with none active")
    return results


# --- 2. the time-rule scan over 1,000,000 tickets -----------------------------------------------------------------

# Statuses by share of the million (a mature help desk: most tickets closed).
_SEED_SQL = """
INSERT INTO tickets_ticket (organization_id, number, subject, status, priority, channel, customer_id, imported,
    created_at, updated_at, status_changed_at, last_customer_message_at, followups_sent, sla_paused_seconds)
SELECT %(org)s, g, 'Ticket ' || g,
    CASE WHEN g %% 100 < 70 THEN 'closed' WHEN g %% 100 < 80 THEN 'resolved' WHEN g %% 100 < 88 THEN 'open'
         WHEN g %% 100 < 93 THEN 'waiting_customer' WHEN g %% 100 < 97 THEN 'waiting_internal' ELSE 'new' END,
    (ARRAY['low', 'normal', 'normal', 'normal', 'high', 'urgent'])[1 + g %% 6],
    (ARRAY['email', 'chat', 'form', 'manual'])[1 + g %% 4],
    %(customer)s, false, t.at - interval '2 hours', t.at, t.at, t.at, 0, 0
FROM generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL (
    SELECT %(now)s::timestamptz - interval '180 days' * (((g::bigint * 7919) %% %(n)s)::float8 / %(n)s) AS at
) t
"""

TIME_RULES = [
    ("Nouveau depuis 2 heures ouvrées", {"status": "new", "amount": 2, "unit": "hours"},
     [{"type": "notify", "to": "managers"}]),
    ("Attente interne depuis 8 heures ouvrées", {"status": "waiting_internal", "amount": 8, "unit": "hours"},
     [{"type": "add_tag", "tag": "relance-interne"}]),
    ("Attente client depuis 1 jour ouvré", {"status": "waiting_customer", "amount": 1, "unit": "days"},
     [{"type": "add_note", "text": "Relancer le client par téléphone."}]),
    ("Ouvert depuis 3 jours ouvrés", {"status": "open", "amount": 3, "unit": "days"},
     [{"type": "set_priority", "priority": "high"}]),
]


def seed_million(n: int, *, reseed: bool, out) -> Organization:
    org, _team = _org(SCAN_SLUG, "Automation bench 1M")
    have = Ticket.objects.filter(organization=org).count()
    if have == n and not reseed:
        out(f"\nAutomation bench organization already has {have:,} tickets: reusing them.")
        return org
    started = time.monotonic()
    with transaction.atomic():
        TimeRuleEpisode.objects.filter(organization=org).delete()
        AutomationRun.objects.filter(organization=org).delete()
        Ticket.objects.filter(organization=org).delete()
        customer, _ = Customer.objects.get_or_create(organization=org, email="client@automation-bench.test")
        with connection.cursor() as cur:
            cur.execute(_SEED_SQL, {"org": org.pk, "customer": customer.pk, "n": n, "now": timezone.now()})
        Organization.objects.filter(pk=org.pk).update(last_ticket_number=n)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE tickets_ticket")
    out(f"\nSeeded {n:,} tickets (INSERT ... SELECT generate_series) in {time.monotonic() - started:.1f} s.")
    return org


def _time_rules(org: Organization) -> list[AutomationRule]:
    AutomationRule.objects.filter(organization=org).delete()
    return [
        services.create_rule(organization=org, actor=BENCH, name=name, events=[], actions=actions,
                             conditions=[{"field": "status_for", **cond}])
        for name, cond, actions in TIME_RULES
    ]


def _steady_state(org: Organization, rules: list[AutomationRule], pool: dict[str, list[int]], now) -> int:
    """As if every earlier scan had run: each rule's cursor just before its threshold, and 25 tickets per rule
    whose stay in the status reaches the delay between the previous scan and this one."""
    calendar = sla_config(org.pk).calendar
    crossing = 0
    for rule in rules:
        threshold = min(subtract_target(calendar, now, rule.time_amount, rule.time_unit), now - timerules.LAG)
        previous = threshold - timedelta(seconds=60)
        ids = [pool[rule.time_status].pop() for _ in range(PER_RULE)]
        Ticket.objects.filter(pk__in=ids).update(status=rule.time_status, status_changed_at=threshold - timedelta(
            seconds=30), updated_at=threshold)
        last = (Ticket.objects.filter(organization=org, status=rule.time_status, imported=False,
                                      status_changed_at__lte=previous)
                .order_by("-status_changed_at", "-id").values_list("status_changed_at", "id").first())
        AutomationRule.objects.filter(pk=rule.pk).update(scan_after_at=last[0] if last else None,
                                                         scan_after_id=last[1] if last else None)
        crossing += len(ids)
    return crossing


def bench_scan(*, tickets_count: int, runs: int, reseed: bool, out) -> dict:
    org = seed_million(tickets_count, reseed=reseed, out=out)
    rules = _time_rules(org)
    # Tickets that will cross a delay in the runs: taken among the closed ones (70 % of the million).
    need = PER_RULE * (runs + 1)
    closed = list(Ticket.objects.filter(organization=org, status=Status.CLOSED).order_by("-id")
                  .values_list("id", flat=True)[: need * len(rules)])
    pool = {r.time_status: closed[i * need:(i + 1) * need] for i, r in enumerate(rules)}
    timings, idle = [], []
    with mock.patch.object(notifications, "queue_emails", lambda ids: None):
        for i in range(runs + 1):
            now = timezone.now()
            crossing = _steady_state(org, rules, pool, now)
            t0 = time.perf_counter()
            totals = timerules.run_scan(now=now)
            elapsed = (time.perf_counter() - t0) * 1000
            if totals["matched"] < crossing:
                raise CommandError(f"expected at least {crossing} rules to fire, got {totals}")
            t0 = time.perf_counter()
            again = timerules.run_scan(now=now)
            idle_ms = (time.perf_counter() - t0) * 1000
            if again["matched"]:
                raise CommandError(f"a scan run twice fired again: {again}")
            if i:  # the first is a warm-up
                timings.append(elapsed)
                idle.append(idle_ms)
    total = Ticket.objects.filter(organization=org).count()
    p95 = _p95(timings)
    out(f"\nTime-rule scan over {total:,} tickets, 4 time rules, {runs} runs with {PER_RULE * len(rules)} tickets "
        "crossing a delay (actions included: notify, tag, note, priority):")
    out(f"  with 100 firing: median {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms, max {max(timings):.0f} ms "
        f"(target {SCAN_TARGET_MS} ms): {_verdict(p95, SCAN_TARGET_MS)}")
    out(f"  nothing to do:   median {statistics.median(idle):.1f} ms (the same scan run again fires nothing)")
    rule = rules[0]
    calendar = sla_config(org.pk).calendar
    threshold = subtract_target(calendar, timezone.now(), rule.time_amount, rule.time_unit)
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + timerules._CANDIDATES_SQL, {
            "org": org.pk, "status": rule.time_status, "threshold": threshold, "batch": timerules.BATCH,
            "after_at": threshold - timedelta(hours=1), "after_id": 0,
        })
        plan = "\n".join(f"    {r[0]}" for r in cur.fetchall())
    out(f"  one rule's read of its range (EXPLAIN ANALYZE):\n{plan}")
    return {"median_ms": statistics.median(timings), "p95_ms": p95, "idle_median_ms": statistics.median(idle)}


def run(*, tickets_count: int = 1_000_000, event_runs: int = 200, scan_runs: int = 10, reseed: bool = False,
        out=print) -> dict:
    _refuse_unless_bench()
    return {
        "event": bench_event(runs=event_runs, out=out),
        "scan": bench_scan(tickets_count=tickets_count, runs=scan_runs, reseed=reseed, out=out),
    }
