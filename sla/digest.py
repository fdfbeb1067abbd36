"""The managers' daily digest (section 17), at 08:30 in the organization's time zone.

Celery beat runs ``send_digests`` every few minutes. One set-based query finds the organizations whose
local time has passed 08:30 today, that have no digest for today yet, and where an Admin or Manager
turned the digest on. Each is then claimed with ``INSERT ... ON CONFLICT DO NOTHING`` on
``(organization, local date)`` in the transaction that creates the notifications: two workers, or two
runs, send it once; a failure rolls the claim back and the next run tries again.

Sent on the organization's business days only (not at weekends or on holidays when it is closed);
"new tickets" covers everything since the previous digest, so Monday's includes the weekend.
Content: new tickets, urgent tickets still open, breached SLAs (running clocks past their due time),
and tickets waiting for an agent's reply for more than 48 business hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk import notifications
from lumiodesk.models import NotificationKind, Organization
from lumiodesk.permissions import roles_with
from tickets.models import Message, MessageKind, Priority, Status, Ticket

from .business_time import NoBusinessTime
from .config import SlaConfig, sla_config
from .formatting import local
from .models import DigestRun

DIGEST_AT = time(8, 30)
NO_REPLY_FOR = timedelta(hours=48)  # business hours
LISTED = 10
ACTIVE = (Status.NEW, Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL)
AWAITING_AGENT = (Status.NEW, Status.OPEN, Status.WAITING_INTERNAL)

_DUE = """
SELECT o.id, (%(now)s AT TIME ZONE o.time_zone)::date
FROM lumiodesk_organization o
WHERE (%(now)s AT TIME ZONE o.time_zone)::time >= %(at)s
  AND NOT EXISTS (SELECT 1 FROM sla_digestrun r
                  WHERE r.organization_id = o.id AND r.local_date = (%(now)s AT TIME ZONE o.time_zone)::date)
  AND EXISTS (SELECT 1 FROM lumiodesk_notificationpreference p
              JOIN lumiodesk_membership m ON m.organization_id = p.organization_id AND m.user_id = p.user_id
              WHERE p.organization_id = o.id AND p.kind = %(kind)s AND (p.email OR p.in_app)
                AND m.is_active AND m.role = ANY(%(roles)s))
ORDER BY o.id
"""


def due_organizations(now: datetime) -> list[tuple[int, date]]:
    """(organization id, local date) of every organization whose digest is due and not sent today."""
    with connection.cursor() as cur:
        cur.execute(_DUE, {"now": now, "at": DIGEST_AT, "kind": NotificationKind.DAILY_DIGEST,
                          "roles": sorted(roles_with("notifications.team"))})
        return cur.fetchall()


def send_digests(*, now: datetime | None = None) -> int:
    """Send every digest due at ``now``; returns how many organizations got one."""
    now = now or timezone.now()
    sent = 0
    for org_id, local_date in due_organizations(now):
        sent += send_digest(org_id, local_date, now=now)
    return sent


@transaction.atomic
def send_digest(organization_id: int, local_date: date, *, now: datetime) -> int:
    """Claim (organization, local date) and send its digest; 0 if it was claimed already."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO sla_digestrun (organization_id, local_date, created_at, recipients) "
            "VALUES (%s, %s, %s, 0) ON CONFLICT (organization_id, local_date) DO NOTHING RETURNING id",
            [organization_id, local_date, now],
        )
        row = cur.fetchone()
    if row is None:
        return 0
    config = sla_config(organization_id)
    if not config.calendar.is_business_day(local_date):
        return 0  # claimed, so the day is done; nothing sent on a closed day
    managers = notifications.agents_of(organization_id, capability="notifications.team")
    if not managers:
        return 0
    org = Organization.objects.get(pk=organization_id)
    previous = (
        DigestRun.objects.filter(organization_id=organization_id, recipients__gt=0, local_date__lt=local_date)
        .order_by("-local_date").values_list("created_at", flat=True).first()
    )
    since = max(previous or now - timedelta(days=1), now - timedelta(days=7))
    content = digest_content(org, config, since=since, now=now)
    with override(org.language):
        title = _("Résumé quotidien du %(d)s — %(org)s") % {"d": local_date.strftime("%d/%m/%Y"), "org": org.name}
        body = content.as_text()
    created = notifications.notify(
        organization_id=organization_id, kind=NotificationKind.DAILY_DIGEST, at=now,
        drafts=[notifications.Draft(recipient_id=m, title=title, body=body, url=reverse("tickets:list"),
                                    dedup_key=f"digest:{organization_id}:{local_date.isoformat()}")
                for m in managers],
    )
    DigestRun.objects.filter(pk=row[0]).update(recipients=len(created))
    return 1 if created else 0


@dataclass
class Section:
    title: str
    count: int
    tickets: list[Ticket]

    def lines(self) -> list[str]:
        out = [f"{self.title} ({self.count})"]
        for t in self.tickets:
            out.append(f"  #{t.number} [{Priority(t.priority).label}] {t.subject}")
        if self.count > len(self.tickets):
            out.append("  …")
        return out


@dataclass
class DigestContent:
    sections: list[Section]

    def as_text(self) -> str:
        return "\n\n".join("\n".join(s.lines()) for s in self.sections)


def _section(title: str, qs: QuerySet[Ticket], order: tuple[str, ...]) -> Section:
    return Section(title, qs.count(), list(qs.only("id", "number", "subject", "priority").order_by(*order)[:LISTED]))


def awaiting_reply(organization: Organization, config: SlaConfig, now: datetime) -> QuerySet[Ticket]:
    """Open tickets whose customer has waited for an agent's reply more than 48 business hours."""
    try:
        cutoff = config.calendar.subtract_business(now, NO_REPLY_FOR)
    except NoBusinessTime:
        return Ticket.objects.none()
    replied = Message.objects.filter(
        ticket=OuterRef("pk"), kind=MessageKind.REPLY, created_at__gte=OuterRef("last_customer_message_at")
    )
    return Ticket.objects.filter(
        organization=organization, imported=False, status__in=AWAITING_AGENT, last_customer_message_at__lte=cutoff,
    ).filter(~Exists(replied))


def digest_content(organization: Organization, config: SlaConfig, *, since: datetime, now: datetime) -> DigestContent:
    tz = config.calendar.time_zone
    tickets = Ticket.objects.filter(organization=organization, imported=False)
    with override(organization.language):
        return DigestContent([
            _section(_("Nouveaux tickets depuis le %(d)s") % {"d": local(since, tz)},
                     tickets.filter(created_at__gte=since, created_at__lt=now), ("-created_at",)),
            _section(_("Tickets urgents ouverts"), tickets.filter(priority=Priority.URGENT, status__in=ACTIVE),
                     ("created_at",)),
            _section(_("SLA dépassés"), tickets.filter(sla_due_at__lt=now), ("sla_due_at",)),
            _section(_("Sans réponse depuis plus de 48 heures ouvrées"), awaiting_reply(organization, config, now),
                     ("last_customer_message_at",)),
        ])
