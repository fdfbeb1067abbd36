"""The SLA scan (Celery beat, every minute): warnings before the due time and breach notices.

Set-based and idempotent:
- it reads only the tickets whose ``sla_next_alert_at`` has come (partial index ``ticket_sla_alert_idx``),
  in batches locked with ``FOR UPDATE SKIP LOCKED`` so two workers share the work;
- each alert is one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on ``(ticket, kind, due_at)``: an
  alert exists once per ticket, kind and due time whoever inserts it, and only the inserted rows
  notify anyone (in the same transaction);
- it then moves each ticket's ``sla_next_alert_at`` to its next instant (a warning, a due time, or the
  organization's next opening), or to NULL when nothing is left, in one UPDATE.

Non-urgent alerts are never sent while the organization is closed (evenings, weekends, holidays): they
wait for the next opening, when a warning whose due time has passed meanwhile becomes a breach notice.
Urgent tickets are alerted at any hour. Who is told: warnings go to the assignee (everyone who works
tickets when nobody is assigned); breach notices also to the Admins and Managers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk import notifications
from lumiodesk.calendar.business_time import NoBusinessTime
from lumiodesk.permissions import members_with, role_can
from tickets.models import Priority, Ticket

from . import clock, outcomes
from .config import SlaConfig, sla_configs
from .formatting import duration, local
from .models import AlertKind
from .notification_kinds import SlaNotificationKind

WARNING = {clock.FIRST_RESPONSE: AlertKind.FIRST_RESPONSE_WARNING, clock.RESOLUTION: AlertKind.RESOLUTION_WARNING}
BREACH = {clock.FIRST_RESPONSE: AlertKind.FIRST_RESPONSE_BREACH, clock.RESOLUTION: AlertKind.RESOLUTION_BREACH}
BREACHES = frozenset(BREACH.values())
SCAN_FIELDS = ("id", "organization_id", "number", "subject", "priority", "status", "assignee_id", "created_at",
               "first_response_at", "imported", "out_of_sla", *sorted(clock.FIELDS))


def run_scan(*, now: datetime | None = None, batch: int = 500, max_batches: int = 100) -> dict[str, int]:
    """Send the alerts that are due at ``now``; returns counts (tickets looked at, alerts, notifications)."""
    now = now or timezone.now()
    totals = {"tickets": 0, "warnings": 0, "breaches": 0, "deferred": 0, "notifications": 0}
    for _round in range(max_batches):
        with transaction.atomic():
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(sla_next_alert_at__lte=now)
                .only(*SCAN_FIELDS)
                .order_by("sla_next_alert_at")[:batch]
            )
            if tickets:
                _process(tickets, now, totals)
        if len(tickets) < batch:
            break
    return totals


class _Org:
    """Per-organization facts the batch needs, computed once."""

    def __init__(self, config: SlaConfig, now: datetime):
        self.config = config
        self.calendar = config.calendar
        self.open_now = self.calendar.is_open(now)
        self._now = now
        self._next_open: datetime | None = None

    def next_open(self) -> datetime | None:
        if self._next_open is None:
            try:
                self._next_open = self.calendar.next_open(self._now)
            except NoBusinessTime:
                return None
        return self._next_open


def _process(tickets: Sequence[Ticket], now: datetime, totals: dict[str, int]) -> None:
    orgs = {org_id: _Org(cfg, now) for org_id, cfg in sla_configs({t.organization_id for t in tickets}).items()}
    wanted: list[tuple[Ticket, str, datetime]] = []
    breaches: list[outcomes.OutcomeRow] = []
    next_at: dict[int, datetime | None] = {}
    for t in tickets:
        org = orgs[t.organization_id]
        may_send = t.priority == Priority.URGENT or org.open_now
        later: list[datetime | None] = []
        for r in clock.running(t):
            if r.due <= now:
                breaches.append(outcomes.OutcomeRow.breach(t, r.metric, r.due, now))
                if may_send:
                    wanted.append((t, BREACH[r.metric], r.due))
                else:
                    later.append(org.next_open())
                continue
            warn = clock.warn_at(org.calendar, t.priority, r.due)
            if warn > now:
                later.append(warn)
            elif may_send:
                wanted.append((t, WARNING[r.metric], r.due))
                later.append(r.due)
            else:
                nxt = org.next_open()
                later.append(min(nxt, r.due) if nxt else r.due)
        if not may_send and later:
            totals["deferred"] += 1
        instants = [x for x in later if x is not None]
        next_at[t.pk] = min(instants) if instants else None

    inserted = _insert_alerts(wanted, now)
    outcomes.record(breaches)
    totals["notifications"] += _notify(inserted, {t.pk: t for t in tickets}, orgs, now)
    _move_cursors(next_at)
    totals["tickets"] += len(tickets)
    totals["breaches"] += sum(1 for _id, _t, kind, _d in inserted if kind in BREACHES)
    totals["warnings"] += sum(1 for _id, _t, kind, _d in inserted if kind not in BREACHES)


def _insert_alerts(wanted: list[tuple[Ticket, str, datetime]], now: datetime) -> list[tuple[int, int, str, datetime]]:
    """The alerts inserted now (not those that already existed): (id, ticket id, kind, due)."""
    if not wanted:
        return []
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(wanted))
    params: list = []
    for t, kind, due in wanted:
        params += [t.organization_id, t.pk, kind, due, now]
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO sla_slaalert (organization_id, ticket_id, kind, due_at, created_at) VALUES {values} "
            "ON CONFLICT (ticket_id, kind, due_at) DO NOTHING RETURNING id, ticket_id, kind, due_at",
            params,
        )
        return cur.fetchall()


def _move_cursors(next_at: dict[int, datetime | None]) -> None:
    if not next_at:
        return
    values = ", ".join(["(%s, %s::timestamptz)"] * len(next_at))
    params: list = []
    for pk, at in next_at.items():
        params += [pk, at]
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE tickets_ticket AS t SET sla_next_alert_at = v.at FROM (VALUES {values}) AS v(id, at) "
            "WHERE t.id = v.id",
            params,
        )


def _texts(kind: str, ticket: Ticket, due: datetime, org: _Org, now: datetime) -> tuple[str, str]:
    labels = {
        AlertKind.FIRST_RESPONSE_WARNING: _("Première réponse attendue avant le %(due)s (reste %(left)s ouvrées)."),
        AlertKind.RESOLUTION_WARNING: _("Résolution attendue avant le %(due)s (reste %(left)s ouvrées)."),
        AlertKind.FIRST_RESPONSE_BREACH: _("La première réponse était attendue avant le %(due)s."),
        AlertKind.RESOLUTION_BREACH: _("La résolution était attendue avant le %(due)s."),
    }
    what = {"n": ticket.number, "subject": ticket.subject}
    title = (_("SLA dépassé : #%(n)s %(subject)s") if kind in BREACHES
             else _("SLA bientôt dépassé : #%(n)s %(subject)s")) % what
    body = labels[kind] % {
        "due": local(due, org.calendar.time_zone), "left": duration(org.calendar.business_between(now, due)),
    }
    body += " " + _("Priorité : %(p)s.") % {"p": Priority(ticket.priority).label}
    return title, body


def _notify(inserted, tickets: dict[int, Ticket], orgs: dict[int, _Org], now: datetime) -> int:
    if not inserted:
        return 0
    org_ids = {tickets[ticket_id].organization_id for _id, ticket_id, _k, _d in inserted}
    agents: dict[int, list[int]] = defaultdict(list)
    managers: dict[int, list[int]] = defaultdict(list)
    workers = members_with("tickets.be_assigned", organization_id__in=org_ids)
    for org_id, user_id, role in workers.values_list("organization_id", "user_id", "role"):
        agents[org_id].append(user_id)
        if role_can(role, "notifications.team"):
            managers[org_id].append(user_id)
    drafts: dict[tuple[int, str], list[notifications.Draft]] = defaultdict(list)
    for alert_id, ticket_id, kind, due in inserted:
        t = tickets[ticket_id]
        org = orgs[t.organization_id]
        team = agents[t.organization_id]
        recipients = [t.assignee_id] if t.assignee_id in team else list(team)
        if kind in BREACHES:
            recipients += [m for m in managers[t.organization_id] if m not in recipients]
        with override(org.config.language):
            title, body = _texts(kind, t, due, org, now)
        notif_kind = SlaNotificationKind.SLA_BREACH if kind in BREACHES else SlaNotificationKind.SLA_WARNING
        url = reverse("tickets:detail", args=[t.number])
        drafts[(t.organization_id, notif_kind)] += [
            notifications.Draft(recipient_id=r, title=title, body=body, url=url, dedup_key=f"sla:{alert_id}")
            for r in recipients
        ]
    created = 0
    for (org_id, notif_kind), group in drafts.items():
        created += len(notifications.notify(organization_id=org_id, kind=notif_kind, drafts=group, at=now))
    return created
