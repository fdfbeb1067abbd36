"""The time-rule scan (Celery beat, every minute): "still New after 2 business hours".

A time rule has one condition "in status S for at least N business minutes/hours/days". For each active
time rule (within its organization's plan limit) the scan:

1. computes, with the organization's calendar (``lumiodesk.calendar``), the *threshold*: the latest instant
   from which N of business time has elapsed by now. A ticket in S since then or earlier qualifies;
2. reads the next tickets in S whose ``status_changed_at`` is past the rule's cursor and not after the
   threshold, in ``(status_changed_at, id)`` order (index ``automations_ticket_status_since_idx``): a
   range, not the whole table, so a million tickets cost the same as a thousand;
3. claims each ticket's *episode* — one stay in the status, keyed ``(rule, ticket, status_changed_at)`` —
   with ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: only the inserted rows go on. Two workers, or a
   scan run twice, insert each episode once: the rule fires at most once per ticket per episode;
4. evaluates the rule's other conditions on the claimed tickets (locked, in id order) and runs its
   actions, journaled with the trigger "time";
5. moves the rule's cursor to the last ticket read, in the same transaction as the claims.

A ticket that leaves S and comes back starts a new episode (a new ``status_changed_at``) and may fire
again. A ticket whose status' age crossed the threshold while its other conditions did not hold is not
looked at again in that episode. Imported tickets are never looked at. Changing a rule's time condition
restarts its cursor; the episodes it already fired stay fired.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from billing.catalogue import PLANS, Limit
from lumiodesk.calendar.business_time import NoBusinessTime, subtract_target
from lumiodesk.calendar.selectors import calendars
from tickets.models import Ticket

from .engine import RULE_FIELDS, CompiledRule, Facts, evaluate
from .models import AutomationRule, Trigger

BATCH = 200
MAX_BATCHES = 25  # per rule and scan: 5,000 tickets a minute for a rule that starts on a big backlog
# A status change is stamped before its transaction commits: the cursor never passes "now - LAG".
LAG = timedelta(minutes=2)

_TIME_RULES_SQL = """
SELECT r.id FROM (
    SELECT id, organization_id, time_status,
           row_number() OVER (PARTITION BY organization_id ORDER BY position, id) AS rank
    FROM automations_automationrule WHERE is_active
) r
JOIN lumiodesk_organization o ON o.id = r.organization_id
WHERE r.time_status IS NOT NULL AND r.rank <= CASE o.plan {cases} ELSE 0 END
ORDER BY r.organization_id, r.rank
"""

_CANDIDATES_SQL = """
SELECT id, status_changed_at FROM tickets_ticket
WHERE organization_id = %(org)s AND status = %(status)s AND NOT imported
  AND status_changed_at <= %(threshold)s
  AND (status_changed_at, id) > (%(after_at)s, %(after_id)s)
ORDER BY status_changed_at, id
LIMIT %(batch)s
"""

_CLAIM_SQL = """
INSERT INTO automations_timeruleepisode (organization_id, rule_id, ticket_id, status_changed_at, matched, created_at)
SELECT %(org)s, %(rule)s, c.id, c.at, false, %(now)s
FROM unnest(%(ids)s::bigint[], %(ats)s::timestamptz[]) AS c(id, at)
ON CONFLICT (rule_id, ticket_id, status_changed_at) DO NOTHING
RETURNING id, ticket_id, status_changed_at
"""

_START = datetime(1900, 1, 1, tzinfo=UTC)  # before any ticket: where a new rule's cursor starts


def time_rules() -> list[AutomationRule]:
    """Active time rules of every organization, those within the plan's limit of active rules."""
    cases = " ".join(f"WHEN '{code}' THEN {spec.limits[Limit.ACTIVE_AUTOMATIONS]:d}" for code, spec in PLANS.items())
    with connection.cursor() as cur:
        cur.execute(_TIME_RULES_SQL.format(cases=cases))
        ids = [row[0] for row in cur.fetchall()]
    if not ids:
        return []
    rules = AutomationRule.objects.filter(pk__in=ids).select_related("organization").only(
        *RULE_FIELDS, "scan_after_at", "scan_after_id", "organization",
    )
    order = {pk: i for i, pk in enumerate(ids)}
    return sorted(rules, key=lambda r: order[r.pk])


def run_scan(*, now: datetime | None = None, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> dict[str, int]:
    now = now or timezone.now()
    totals = {"rules": 0, "looked_at": 0, "matched": 0}
    rules = time_rules()
    by_org = calendars({r.organization_id for r in rules})
    for rule in rules:
        calendar = by_org[rule.organization_id]
        try:
            threshold = subtract_target(calendar, now, rule.time_amount, rule.time_unit)
        except NoBusinessTime:
            continue
        threshold = min(threshold, now - LAG)
        totals["rules"] += 1
        for _round in range(max_batches):
            read = _scan_batch(rule, threshold=threshold, now=now, batch=batch, calendar=calendar, totals=totals)
            if read < batch:
                break
    return totals


def _scan_batch(rule: AutomationRule, *, threshold: datetime, now: datetime, batch: int, calendar,
                totals: dict[str, int]) -> int:
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_CANDIDATES_SQL, {
            "org": rule.organization_id, "status": rule.time_status, "threshold": threshold, "batch": batch,
            "after_at": rule.scan_after_at or _START,
            "after_id": rule.scan_after_id or 0,
        })
        candidates = cur.fetchall()
        if not candidates:
            return 0
        cur.execute(_CLAIM_SQL, {
            "org": rule.organization_id, "rule": rule.pk, "now": now,
            "ids": [c[0] for c in candidates], "ats": [c[1] for c in candidates],
        })
        claimed = {ticket_id: (episode_id, at) for episode_id, ticket_id, at in cur.fetchall()}
        if claimed:
            matched = _run(rule, claimed, now=now, calendar=calendar)
            totals["matched"] += len(matched)
            if matched:
                cur.execute("UPDATE automations_timeruleepisode SET matched = true WHERE id = ANY(%s)", [matched])
        last_id, last_at = candidates[-1]
        cur.execute(
            "UPDATE automations_automationrule SET scan_after_at = %s, scan_after_id = %s "
            "WHERE id = %s AND (scan_after_at IS NULL OR (scan_after_at, scan_after_id) < (%s, %s))",
            [last_at, last_id, rule.pk, last_at, last_id],
        )
        rule.scan_after_at, rule.scan_after_id = last_at, last_id
        totals["looked_at"] += len(claimed)
        return len(candidates)


def _run(rule: AutomationRule, claimed: dict[int, tuple[int, datetime]], *, now: datetime, calendar) -> list[int]:
    """Evaluate and act on the claimed tickets; returns the episode ids that matched."""
    tickets = list(
        Ticket.objects.select_for_update(of=("self",))
        .select_related("customer", "customer__company")
        .defer("search_vector").filter(pk__in=list(claimed)).order_by("id")
    )
    matched = []
    compiled = CompiledRule.compile(rule)
    for ticket in tickets:
        ticket.organization = rule.organization
        episode_id, since = claimed[ticket.pk]
        if ticket.imported or ticket.status != rule.time_status or ticket.status_changed_at != since:
            continue  # that episode ended between the read and the lock
        facts = Facts(ticket, now=now, calendar=calendar)
        runs = evaluate(ticket, Trigger.TIME, rules=[compiled], now=now, facts=facts,
                        key=f"time:{ticket.status_changed_at.isoformat()}")
        if runs:
            matched.append(episode_id)
    return matched
