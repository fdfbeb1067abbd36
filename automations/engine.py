"""The rule engine: which rules match a ticket, in order, and what their actions did (the journal).

When rules run (``automations.receivers`` decides, from ``tickets.events``):

- **on creation, inside the creating transaction.** The ticket is committed with the tags, priority,
  assignee and notes its rules gave it: no agent, list, notification or ``ticket.created`` webhook ever
  sees it without them, and nothing is lost if the process dies after the commit. Each action runs in a
  savepoint: a failing action is journaled as failed and rolled back alone, never the ticket.
- **on updates and customer replies, right after the commit, in the same process** (``on_commit``), in
  a transaction of their own. The services send these events *before* saving the ticket, so a rule
  acting there would race the service's own save; after the commit the rule sees the change as saved,
  and a failing rule can never roll back an agent's reply or a customer's message. One evaluation per
  ticket and trigger per transaction (a reply that also changes the status is one "update").
- **time rules, from the scan** (``automations.timerules``, Celery beat, every minute).

Rules never trigger rules: while actions run, ``running()`` is set and the receiver ignores the ticket
events the actions cause (webhooks and agent notifications still react to them). Imported tickets
never run rules. Active rules beyond the plan's limit (after a downgrade) are kept but not evaluated:
only the first N active rules, in display order, run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from types import SimpleNamespace

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import override

from billing.catalogue import Limit
from billing.services import limit_of
from lumiodesk.models import Organization
from sla.business_time import NoBusinessTime, subtract_target
from tickets.models import Message, MessageKind, Ticket, TicketTag

from . import actions as action_runner
from .models import AutomationRule, AutomationRun, Match, Outcome, Trigger
from .rules import Cond, fold

log = logging.getLogger(__name__)

_running: ContextVar[bool] = ContextVar("automations_running", default=False)

RULE_FIELDS = ("id", "organization_id", "name", "position", "events", "match", "conditions", "actions",
               "stop_after", "time_status", "time_amount", "time_unit")


@contextmanager
def running() -> Iterator[None]:
    """While set, ticket events do not evaluate rules: the actions of a rule never trigger rules."""
    token = _running.set(True)
    try:
        yield
    finally:
        _running.reset(token)


def is_running() -> bool:
    return _running.get()


# --- which rules -------------------------------------------------------------------------------------------

# Conditions answered from the ticket row itself are checked first; those that need a query (the tags, the
# message text, the company) last, so a rule that cannot match costs no query.
_COST = {Cond.TAG: 2, Cond.TEXT: 2, Cond.COMPANY: 1, Cond.STATUS_FOR: 3}

_RULES_SQL = """
SELECT id, name, events, match, conditions, actions, stop_after, time_status, time_amount, time_unit
FROM automations_automationrule
WHERE organization_id = %s AND is_active
ORDER BY position, id
LIMIT %s
"""


@dataclass(frozen=True)
class Rule:
    """An active rule as the engine runs it: read with one plain query, its texts folded once."""

    pk: int
    name: str
    events: tuple[str, ...]
    match: str
    conditions: tuple[dict, ...]  # in evaluation order (cheapest first)
    actions: list[dict]
    stop_after: bool
    time_status: str | None = None
    time_amount: int | None = None
    time_unit: str | None = None

    @classmethod
    def compile(cls, rule) -> Rule:
        conditions = sorted(rule.conditions, key=lambda c: _COST.get(c.get("field"), 0))
        prepared = tuple({**c, "_folded": fold(str(c.get("value") or ""))} for c in conditions)
        return cls(rule.pk, rule.name, tuple(rule.events), rule.match, prepared, rule.actions, rule.stop_after,
                   rule.time_status, rule.time_amount, rule.time_unit)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def active_rules(organization: Organization) -> list[Rule]:
    """The active rules the plan lets run, in evaluation order (one query)."""
    limit = limit_of(organization, Limit.ACTIVE_AUTOMATIONS)
    with connection.cursor() as cur:
        cur.execute(_RULES_SQL, [organization.pk, limit])
        rows = cur.fetchall()
    return [
        Rule.compile(SimpleNamespace(
            pk=pk, name=name, events=events or [], match=match, conditions=_json(conditions), actions=_json(actions),
            stop_after=stop_after, time_status=time_status, time_amount=time_amount, time_unit=time_unit,
        ))
        for pk, name, events, match, conditions, actions, stop_after, time_status, time_amount, time_unit in rows
    ]


def rules_for(organization: Organization, trigger: str) -> list[Rule]:
    return [r for r in active_rules(organization) if trigger in r.events and r.time_status is None]


# --- what is known of the ticket -----------------------------------------------------------------------------


class Facts:
    """The ticket as the conditions see it; what needs a query is loaded once, and only if a condition asks."""

    def __init__(self, ticket: Ticket, *, message: Message | None = None, now: datetime, calendar=None):
        self.ticket = ticket
        self.message = message
        self.now = now
        self._calendar = calendar

    @cached_property
    def tags(self) -> set[str]:
        names = TicketTag.objects.filter(ticket_id=self.ticket.pk).values_list("tag__name", flat=True)
        return {n.lower() for n in names}

    @cached_property
    def subject(self) -> str:
        return fold(self.ticket.subject)

    @cached_property
    def text(self) -> str:
        message = self.message
        if message is None or message.kind != MessageKind.CUSTOMER:
            message = (
                Message.objects.filter(ticket_id=self.ticket.pk, kind=MessageKind.CUSTOMER)
                .only("body_text").order_by("-created_at", "-id").first()
            )
        return f"{self.subject} {fold(message.body_text if message else '')}"

    @cached_property
    def customer(self):
        return self.ticket.customer

    @cached_property
    def company(self):
        return self.customer.company if self.customer.company_id else None

    @property
    def calendar(self):
        if self._calendar is None:
            from sla.config import sla_config

            self._calendar = sla_config(self.ticket.organization_id).calendar
        return self._calendar


def _compare(op: str, actual: str, wanted: str) -> bool:
    actual = fold(actual)
    if op == "equals":
        return actual == wanted
    if op == "not_equals":
        return actual != wanted
    if op == "contains":
        return wanted in actual
    return wanted not in actual  # not_contains


def _is(op: str, actual, wanted) -> bool:
    return (actual == wanted) if op == "is" else (actual != wanted)


def _folded(c: dict) -> str:
    return c["_folded"] if "_folded" in c else fold(str(c.get("value") or ""))


def condition_holds(c: dict, facts: Facts) -> bool:
    t = facts.ticket
    kind, op = c["field"], c.get("op")
    if kind == Cond.SUBJECT:
        found = _folded(c) in facts.subject
        return found if op == "contains" else not found
    if kind == Cond.TEXT:
        found = _folded(c) in facts.text
        return found if op == "contains" else not found
    if kind == Cond.CHANNEL:
        return _is(op, t.channel, c["value"])
    if kind == Cond.MAILBOX:
        return _is(op, t.mailbox_id, c["value"])
    if kind == Cond.STATUS:
        return _is(op, t.status, c["value"])
    if kind == Cond.PRIORITY:
        return _is(op, t.priority, c["value"])
    if kind == Cond.ASSIGNEE:
        return _is(op, t.assignee_id, c["value"])
    if kind == Cond.TAG:
        has = c["value"] in facts.tags
        return has if op == "has" else not has
    if kind == Cond.CUSTOMER:
        customer, key = facts.customer, c["key"]
        if key == "email":
            actual = customer.email
        elif key == "name":
            actual = customer.full_name
        else:
            value = (customer.attributes or {}).get(key)
            actual = "" if value is None else str(value)
        return _compare(op, actual, _folded(c))
    if kind == Cond.COMPANY:
        company = facts.company
        actual = getattr(company, c["key"], "") if company is not None else ""
        return _compare(op, actual or "", _folded(c))
    if kind == Cond.STATUS_FOR:
        if t.status != c["status"]:
            return False
        try:
            threshold = subtract_target(facts.calendar, facts.now, c["amount"], c["unit"])
        except NoBusinessTime:
            return False
        return t.status_changed_at <= threshold
    return False


def rule_matches(rule: Rule, facts: Facts) -> bool:
    if not rule.conditions:
        return True
    checks = (condition_holds(c, facts) for c in rule.conditions)
    return any(checks) if rule.match == Match.ANY else all(checks)


# --- evaluating --------------------------------------------------------------------------------------------


def evaluate(
    ticket: Ticket, trigger: str, *, rules: Sequence[Rule], now: datetime, message: Message | None = None,
    facts: Facts | None = None, before_actions: Callable[[], None] | None = None, key: str = "",
) -> list[AutomationRun]:
    """Run ``rules`` on ``ticket`` in order; journal each rule that matched. Call inside a transaction.

    ``before_actions`` runs once, before the first action (the creation path saves the ticket there).
    ``key`` names this evaluation for the idempotency keys of its notifications.
    """
    facts = facts or Facts(ticket, message=message, now=now)
    org = ticket.organization
    runs: list[AutomationRun] = []
    prepared = before_actions is None
    key = key or f"{trigger}:{now.isoformat()}"
    with running(), override(org.language):
        for rule in rules:
            if not rule_matches(rule, facts):
                continue
            if not prepared:
                before_actions()
                prepared = True
            results = [
                action_runner.run(action, ticket=ticket, rule=rule, facts=facts, key=f"{key}:{rule.pk}:{i}")
                for i, action in enumerate(rule.actions)
            ]
            runs.append(AutomationRun(
                organization_id=ticket.organization_id, ticket_id=ticket.pk, rule_id=rule.pk, rule_name=rule.name,
                trigger=trigger, actions=[r.as_journal() for r in results], stopped=rule.stop_after,
                created_at=now,
            ))
            if rule.stop_after:
                break
    if runs:
        AutomationRun.objects.bulk_create(runs)
    return runs


def evaluate_created(ticket: Ticket, *, message: Message | None, now: datetime) -> list[AutomationRun]:
    """The creation path, inside ``tickets.services.create_ticket``'s transaction.

    The service saves the fields its event receivers set *after* the event; actions that reload the ticket
    (a status change, a note) must see them, so the ticket is saved before the first action, and reloaded
    after the last one so the service's own save writes what the actions left.
    """
    rules = rules_for(ticket.organization, Trigger.CREATED)
    if not rules:
        return []
    runs = evaluate(ticket, Trigger.CREATED, rules=rules, now=now, message=message, before_actions=ticket.save)
    if runs:
        ticket.refresh_from_db()
    return runs


class AfterCommit:
    """One evaluation of a ticket for a trigger, run once the change that caused it is committed."""

    def __init__(self, ticket_id: int, trigger: str, message_id: int | None):
        self.ticket_id = ticket_id
        self.trigger = trigger
        self.message_id = message_id

    @property
    def key(self) -> tuple[int, str]:
        return (self.ticket_id, self.trigger)

    def __call__(self) -> None:
        try:
            evaluate_committed(self.ticket_id, self.trigger, message_id=self.message_id)
        except Exception:  # noqa: BLE001 - the change is committed; a failing rule must not break the request
            log.exception("automation rules failed on ticket %s (%s)", self.ticket_id, self.trigger)


def schedule_after_commit(ticket: Ticket, trigger: str, message_id: int | None = None) -> None:
    """Evaluate after the commit; once per ticket and trigger however many events the transaction sends,
    and not at all when the organization has no active rule for that trigger (one indexed query)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for _sids, func, _robust in getattr(connection, "run_on_commit", ()):
            if isinstance(func, AfterCommit) and func.key == (ticket.pk, trigger):
                func.message_id = func.message_id or message_id
                return
    if not AutomationRule.objects.filter(
        organization_id=ticket.organization_id, is_active=True, events__contains=[trigger]
    ).exists():
        return
    transaction.on_commit(AfterCommit(ticket.pk, trigger, message_id), robust=True)


def evaluate_committed(ticket_id: int, trigger: str, *, message_id: int | None = None) -> list[AutomationRun]:
    """An update or a customer reply, after its commit. The ticket row is locked only once a rule matched,
    before its first action (a concurrent change evaluates the rules again after its own commit)."""
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_related("organization", "customer", "customer__company")
            .defer("search_vector").filter(pk=ticket_id).first()
        )
        if ticket is None or ticket.imported:
            return []
        rules = rules_for(ticket.organization, trigger)
        if not rules:
            return []
        message = Message.objects.filter(pk=message_id).first() if message_id else None

        def lock() -> None:
            locked = Ticket.objects.select_for_update().defer("search_vector").get(pk=ticket_id)
            for f in Ticket._meta.concrete_fields:
                if f.attname != "search_vector":
                    setattr(ticket, f.attname, getattr(locked, f.attname))

        return evaluate(ticket, trigger, rules=rules, now=timezone.now(), message=message, before_actions=lock)


__all__ = ["Facts", "Outcome", "evaluate", "evaluate_created", "rules_for", "schedule_after_commit"]
