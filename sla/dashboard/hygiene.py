"""Queue hygiene (002 "Gestion de la file", "Ticket urgent"): tell agents, once, about

- an "En cours" ticket (open or waiting internally) without any activity for 24 hours;
- an urgent ticket whose customer had no public reply from us for 2 hours.

The rules themselves are the ticket list's ``stale`` filter (``tickets.selectors.stale_condition``): the shared
views "En cours sans activité depuis 24 h" and "Urgents sans nouvelles depuis 2 h" list the same tickets.

Celery beat runs ``run_queue_hygiene`` every 10 minutes. A ticket is notified once per stall: a
``QueueAlert`` row per ticket, kind and ``since`` (its last activity, or our last reply), inserted with
``ON CONFLICT DO NOTHING``; only the rows actually inserted are notified, so two workers, or two runs,
notify once. Recipients: the assignee, or the organization's agents when nobody is assigned. Each run
reads at most ``BATCH`` tickets per rule, through the partial indexes ``ticket_in_progress_idx`` and
``ticket_urgent_active_idx`` (never the whole table).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk import notifications
from lumiodesk.models import Organization
from lumiodesk.permissions import members_with
from tickets.models import Message, MessageKind, Ticket
from tickets.selectors import STALE_FILTERS, stale_condition

from ..models import QueueAlert, QueueAlertKind
from ..notification_kinds import SlaNotificationKind

BATCH = 500


def _candidates(kind: str, now: datetime) -> list[Ticket]:
    if kind == QueueAlertKind.IN_PROGRESS_STALE:
        since = F("updated_at")
    else:
        last_reply = (Message.objects.filter(ticket_id=OuterRef("pk"), kind=MessageKind.REPLY)
                      .values("ticket_id").annotate(at=Max("created_at")).values("at"))
        since = Coalesce(Subquery(last_reply, output_field=DateTimeField()), F("created_at"))
    already = QueueAlert.objects.filter(ticket_id=OuterRef("pk"), kind=kind, since=OuterRef("since"))
    return list(
        Ticket.objects.filter(stale_condition(kind, now))
        .annotate(since=since).filter(~Exists(already))
        .only("id", "organization_id", "number", "subject", "assignee_id", "priority", "updated_at", "created_at")
        .order_by("since")[:BATCH]
    )


def _insert(kind: str, tickets: list[Ticket], now: datetime) -> set[int]:
    """The tickets whose alert this run inserted (the others were notified already)."""
    if not tickets:
        return set()
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(tickets))
    params: list = []
    for t in tickets:
        params += [t.organization_id, t.pk, kind, t.since, now]
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO sla_queuealert (organization_id, ticket_id, kind, since, created_at) "
                    f"VALUES {values} ON CONFLICT (ticket_id, kind, since) DO NOTHING RETURNING ticket_id", params)
        return {row[0] for row in cur.fetchall()}


def _text(kind: str, ticket: Ticket) -> tuple[str, str]:
    what = {"n": ticket.number, "subject": ticket.subject}
    if kind == QueueAlertKind.IN_PROGRESS_STALE:
        return (_("En cours sans activité depuis 24 h : #%(n)s %(subject)s") % what,
                _("Ne laissez pas un ticket « En cours » stagner plus de 24 h."))
    return (_("Urgent sans nouvelles depuis 2 h : #%(n)s %(subject)s") % what,
            _("Tenez le client informé toutes les 2 h tant que le ticket urgent n'est pas résolu."))


@transaction.atomic
def run_queue_hygiene(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    totals = {"tickets": 0, "notifications": 0}
    for kind in STALE_FILTERS:
        tickets = _candidates(kind, now)
        inserted = _insert(kind, tickets, now)
        fresh = [t for t in tickets if t.pk in inserted]
        totals["tickets"] += len(fresh)
        if not fresh:
            continue
        org_ids = {t.organization_id for t in fresh}
        languages = dict(Organization.objects.filter(pk__in=org_ids).values_list("pk", "language"))
        team: dict[int, list[int]] = defaultdict(list)
        workers = members_with("tickets.be_assigned", organization_id__in=org_ids)
        for org_id, user_id in workers.order_by("user_id").values_list("organization_id", "user_id"):
            team[org_id].append(user_id)
        drafts: dict[int, list[notifications.Draft]] = defaultdict(list)
        for t in fresh:
            recipients = [t.assignee_id] if t.assignee_id in team[t.organization_id] else team[t.organization_id]
            with override(languages.get(t.organization_id)):
                title, body = _text(kind, t)
            url = reverse("tickets:detail", args=[t.number])
            drafts[t.organization_id] += [
                notifications.Draft(recipient_id=r, title=title, body=body, url=url,
                                    dedup_key=f"queue:{kind}:{t.pk}:{t.since.isoformat()}")
                for r in recipients
            ]
        for org_id, group in drafts.items():
            totals["notifications"] += len(notifications.notify(
                organization_id=org_id, kind=SlaNotificationKind.QUEUE_HYGIENE, drafts=group, at=now))
    return totals
