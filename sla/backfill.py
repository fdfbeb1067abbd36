"""SLA outcomes of tickets handled before the SLA existed (``manage.py sla_backfill``).

Reports count outcomes; a ticket resolved before the upgrade has none, so a report over an older period
would show only the breaches of the tickets still open. This replays each such ticket's history with
today's settings: due times from its creation and priority, the first public reply (its author) for
the first response, and the status changes of the audit log for the pauses (waiting on the customer,
resolved then reopened), exactly as the live clock would have counted them. Idempotent: tickets that
already have an outcome are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from lumiodesk.models import AuditLog
from tickets.models import Message, MessageKind, Status, Ticket

from . import clock, outcomes
from .config import SlaConfig, sla_config
from .models import SlaOutcome


def replay_resolution(ticket: Ticket, config: SlaConfig, base_due: datetime,
                      changes: list[tuple[datetime, str]]) -> tuple[datetime, int, datetime | None]:
    """(due time, business seconds paused, instant the clock stopped for good) from the status changes."""
    cal = config.calendar
    due, paused, stopped_since = base_due, 0, None
    for at, new in changes:
        stop = clock.stop_reason(new, config)
        if stop and stopped_since is None:
            stopped_since = at
        elif not stop and stopped_since is not None:
            if stopped_since < due and at > stopped_since:
                paused += int(cal.business_between(stopped_since, at).total_seconds())
                due = cal.add_business(base_due, timedelta(seconds=paused))
            stopped_since = None
    return due, paused, stopped_since


def backfill(organization_id: int, *, batch: int = 1000, now: datetime | None = None) -> int:
    """Record the outcomes of the organization's handled tickets that have none; returns how many tickets."""
    now = now or timezone.now()
    config = sla_config(organization_id)
    has_outcome = SlaOutcome.objects.filter(ticket=OuterRef("pk"))
    handled = Q(first_response_at__isnull=False) | Q(status__in=clock.STOPPED)
    last_id, done = 0, 0
    while True:
        with transaction.atomic():
            tickets = list(
                Ticket.objects.filter(organization_id=organization_id, imported=False, pk__gt=last_id)
                .filter(handled).filter(~Exists(has_outcome)).defer("search_vector").order_by("pk")[:batch]
            )
            if not tickets:
                return done
            ids = [t.pk for t in tickets]
            changes: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
            for target, at, data in (
                AuditLog.objects.filter(organization_id=organization_id, target_type="ticket", target_id__in=ids,
                                        action="ticket.status")
                .order_by("created_at", "id").values_list("target_id", "created_at", "data")
            ):
                changes[target].append((at, data.get("new", "")))
            repliers = dict(
                Message.objects.filter(ticket_id__in=ids, kind=MessageKind.REPLY).order_by("ticket_id", "created_at")
                .distinct("ticket_id").values_list("ticket_id", "author_user_id")
            )
            rows = []
            for t in tickets:
                rows += _outcomes(t, config, changes[t.pk], repliers.get(t.pk), now)
            outcomes.record(rows)
            Ticket.objects.bulk_update(
                [t for t in tickets if t.status in clock.STOPPED],
                ["first_response_due_at", "resolution_due_at", "sla_paused_at", "sla_paused_seconds"],
            )
            done += len(tickets)
            last_id = ids[-1]


def _outcomes(t: Ticket, config: SlaConfig, changes, replier: int | None, now: datetime) -> list:
    cal = config.calendar
    first_due, base_due = clock.due_times(config, t.priority, t.created_at)
    if first_due is None:
        return []
    rows = []
    if t.first_response_at is not None:
        rows.append(outcomes.OutcomeRow(
            t.organization_id, t.pk, clock.FIRST_RESPONSE, t.priority, replier, t.created_at, first_due,
            t.first_response_at, clock.business_seconds(cal, t.created_at, t.first_response_at),
            t.first_response_at > first_due, now,
        ))
    if t.status in clock.STOPPED:
        if not changes or changes[-1][1] != t.status:
            changes = [*changes, (t.resolved_at or t.status_changed_at, Status.RESOLVED)]
        due, paused, stopped = replay_resolution(t, config, base_due, changes)
        stopped = stopped or t.resolved_at or t.status_changed_at
        spent = clock.business_seconds(cal, t.created_at, stopped) - paused
        rows.append(outcomes.OutcomeRow(
            t.organization_id, t.pk, clock.RESOLUTION, t.priority, t.assignee_id, t.created_at, due, stopped,
            max(spent, 0), stopped > due, now,
        ))
        t.first_response_due_at, t.resolution_due_at = first_due, due
        t.sla_paused_at, t.sla_paused_seconds = stopped, paused
    return rows
