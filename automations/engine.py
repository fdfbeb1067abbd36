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
from .models import AutomationRun, Match, Outcome, Trigger
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
_COST = {Cond.COMPANY: 1, Cond.TAG: 2, Cond.TEXT: 2, Cond.STATUS_FOR: 3}

# Compiled rules per organization, reused while the organization's active rules are unchanged: the
# fingerprint (how many, the sum of their row versions) changes with any insert, update or delete.
_FINGERPRINT_SQL = """
SELECT count(*), coalesce(sum(xmin::text::bigint), 0), coalesce(max(id), 0)
FROM automations_automationrule WHERE organization_id = %s AND is_active
"""
_RULES_SQL = """
SELECT id, name, events, match, conditions, actions, stop_after, time_status, time_amount, time_unit
FROM automations_automationrule WHERE organization_id = %s AND is_active
ORDER BY position, id
"""
_cache: dict[int, tuple[tuple, list[Rule]]] = {}
_CACHE_SIZE = 2000


@dataclass(frozen=True)
class Rule:
    """An active rule as the engine runs it: its conditions compiled into predicates, cheapest first."""

    pk: int
    name: str
    events: tuple[str, ...]
    match: str
    conditions: tuple[dict, ...]
    actions: list[dict]
    stop_after: bool
    time_status: str | None = None
    time_amount: int | None = None
    time_unit: str | None = None
    predicates: tuple[Callable[[Facts], bool], ...] = ()

    @classmethod
    def compile(cls, rule) -> Rule:
        conditions = tuple(sorted(rule.conditions, key=lambda c: _COST.get(c.get("field"), 0)))
        return cls(rule.pk, rule.name, tuple(rule.events or ()), rule.match, conditions, rule.actions,
                   rule.stop_after, rule.time_status, rule.time_amount, rule.time_unit,
                   tuple(predicate(c) for c in conditions))


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def active_rules(organization: Organization) -> list[Rule]:
    """The active rules the plan lets run, in evaluation order: one small query while they are unchanged."""
    with connection.cursor() as cur:
        cur.execute(_FINGERPRINT_SQL, [organization.pk])
        fingerprint = tuple(cur.fetchone())
        if not fingerprint[0]:
            return []
        cached = _cache.get(organization.pk)
        if cached is not None and cached[0] == fingerprint:
            rules = cached[1]
        else:
            cur.execute(_RULES_SQL, [organization.pk])
            rules = [
                Rule.compile(SimpleNamespace(
                    pk=pk, name=name, events=events, match=match, conditions=_json(conditions),
                    actions=_json(actions), stop_after=stop_after, time_status=time_status,
                    time_amount=time_amount, time_unit=time_unit,
                ))
                for pk, name, events, match, conditions, actions, stop_after, time_status, time_amount, time_unit
                in cur.fetchall()
            ]
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[organization.pk] = (fingerprint, rules)
    return rules[: limit_of(organization, Limit.ACTIVE_AUTOMATIONS)]


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
    def customer_fields(self) -> dict[str, str]:
        """The customer's email, name and attributes, folded once."""
        c = self.customer
        out = {k: fold("" if v is None else str(v)) for k, v in (c.attributes or {}).items()}
        out.update(email=fold(c.email), name=fold(c.full_name))
        return out

    @cached_property
    def company(self):
        return self.customer.company if self.customer.company_id else None

    @property
    def calendar(self):
        if self._calendar is None:
            from sla.config import sla_config

            self._calendar = sla_config(self.ticket.organization_id).calendar
        return self._calendar


def _text_test(op: str, wanted: str) -> Callable[[str], bool]:
    if op == "equals":
        return lambda actual: actual == wanted
    if op == "not_equals":
        return lambda actual: actual != wanted
    if op == "contains":
        return lambda actual: wanted in actual
    return lambda actual: wanted not in actual  # not_contains


def predicate(c: dict) -> Callable[[Facts], bool]:
    """One condition (``automations.rules``) as a function of the facts."""
    kind, op, value = c["field"], c.get("op"), c.get("value")
    negate = op in ("not_contains", "is_not", "has_not")
    if kind in (Cond.SUBJECT, Cond.TEXT):
        wanted, attr = fold(str(value)), "subject" if kind == Cond.SUBJECT else "text"
        if negate:
            return lambda f: wanted not in getattr(f, attr)
        return lambda f: wanted in getattr(f, attr)
    if kind in (Cond.CHANNEL, Cond.MAILBOX, Cond.STATUS, Cond.PRIORITY, Cond.ASSIGNEE):
        attr = {Cond.CHANNEL: "channel", Cond.MAILBOX: "mailbox_id", Cond.STATUS: "status",
                Cond.PRIORITY: "priority", Cond.ASSIGNEE: "assignee_id"}[kind]
        if negate:
            return lambda f: getattr(f.ticket, attr) != value
        return lambda f: getattr(f.ticket, attr) == value
    if kind == Cond.AUTOMATIC:
        return lambda f: f.ticket.is_automatic != negate
    if kind == Cond.TAG:
        if negate:
            return lambda f: value not in f.tags
        return lambda f: value in f.tags
    if kind == Cond.CUSTOMER:
        test, key = _text_test(op, fold(str(value))), c["key"]
        return lambda f: test(f.customer_fields.get(key, ""))
    if kind == Cond.COMPANY:
        test, key = _text_test(op, fold(str(value))), c["key"]
        return lambda f: test(fold(getattr(f.company, key, "") or "") if f.company is not None else "")
    if kind == Cond.STATUS_FOR:
        status, amount, unit = c["status"], c["amount"], c["unit"]

        def in_status_long_enough(f: Facts) -> bool:
            if f.ticket.status != status:
                return False
            try:
                return f.ticket.status_changed_at <= subtract_target(f.calendar, f.now, amount, unit)
            except NoBusinessTime:
                return False

        return in_status_long_enough
    return lambda f: False


def condition_holds(c: dict, facts: Facts) -> bool:
    return predicate(c)(facts)


def rule_matches(rule: Rule, facts: Facts) -> bool:
    if not rule.predicates:
        return True
    if rule.match == Match.ANY:
        return any(p(facts) for p in rule.predicates)
    return all(p(facts) for p in rule.predicates)


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
    """One evaluation of a ticket for a trigger, once the change that caused it is committed.

    It keeps the ticket as the service saved it (the last copy the transaction's events carried) and the
    rules read when it was scheduled: after the commit, nothing is read again unless a rule matches.
    """

    def __init__(self, ticket: Ticket, trigger: str, message: Message | None, rules: list[Rule]):
        self.ticket, self.trigger, self.message, self.rules = ticket, trigger, message, rules

    @property
    def key(self) -> tuple[int, str]:
        return (self.ticket.pk, self.trigger)

    def __call__(self) -> None:
        try:
            evaluate_event(self.ticket, self.trigger, message=self.message, rules=self.rules)
        except Exception:  # noqa: BLE001 - the change is committed; a failing rule must not break the request
            log.exception("automation rules failed on ticket %s (%s)", self.ticket.pk, self.trigger)


def schedule_after_commit(ticket: Ticket, trigger: str, message: Message | None = None) -> None:
    """Evaluate after the commit: once per ticket and trigger however many events the transaction sends, and
    not at all when the organization has no active rule for that trigger."""
    connection_ = transaction.get_connection()
    if connection_.in_atomic_block:
        for _sids, func, _robust in getattr(connection_, "run_on_commit", ()):
            if isinstance(func, AfterCommit) and func.key == (ticket.pk, trigger):
                func.ticket = ticket  # the latest copy: the transaction's final state
                func.message = func.message or message
                return
    rules = rules_for(ticket.organization, trigger)
    if rules:
        transaction.on_commit(AfterCommit(ticket, trigger, message, rules), robust=True)


def evaluate_event(ticket: Ticket, trigger: str, *, message: Message | None = None,
                   rules: list[Rule] | None = None) -> list[AutomationRun]:
    """An update or a customer reply, after its commit, in a transaction of its own. The ticket row is
    locked (and read again) only once a rule matched, before its first action; a change made meanwhile by
    someone else evaluates the rules again after its own commit."""
    if ticket.imported:
        return []
    rules = rules_for(ticket.organization, trigger) if rules is None else rules
    if not rules:
        return []

    def lock() -> None:
        locked = Ticket.objects.select_for_update().defer("search_vector").get(pk=ticket.pk)
        for f in Ticket._meta.concrete_fields:
            if f.attname != "search_vector":
                setattr(ticket, f.attname, getattr(locked, f.attname))

    with transaction.atomic():
        return evaluate(ticket, trigger, rules=rules, now=timezone.now(), message=message, before_actions=lock)


__all__ = ["Facts", "Outcome", "evaluate", "evaluate_created", "evaluate_event", "rules_for", "schedule_after_commit"]
