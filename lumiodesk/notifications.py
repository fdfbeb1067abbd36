"""Agent notifications (section 17): the one mechanism every app uses to tell agents something.

An app describes *what* happened to *whom* (``Draft``: recipient, title, body, link, and a key naming
the event); this module applies each person's preference for that kind (in-app, email, both or none),
writes the rows once per person and event (``INSERT ... ON CONFLICT DO NOTHING`` on
``(recipient, dedup_key)``), and queues the emails with ``transaction.on_commit``. Safe to call twice
for the same event: the second call creates nothing and sends nothing.

Who is told what is the calling app's business (``tickets.agent_notifications``, ``sla.alerts``,
``sla.digest``); this module only knows the kinds, the preferences, the center and the emails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from .models import AgentNotification, Membership, NotificationKind, NotificationPreference, Organization
from .permissions import role_can, roles_with

log = logging.getLogger(__name__)

# (in_app, email) when a person has not chosen. The daily digest is opt-in (a manager turns it on).
DEFAULTS: dict[str, tuple[bool, bool]] = {
    NotificationKind.ASSIGNED: (True, True),
    NotificationKind.MENTION: (True, True),
    NotificationKind.CUSTOMER_REPLY: (True, False),
    NotificationKind.SLA_WARNING: (True, True),
    NotificationKind.SLA_BREACH: (True, True),
    NotificationKind.URGENT: (True, True),
    NotificationKind.DAILY_DIGEST: (False, False),
    NotificationKind.AUTOMATION: (True, True),  # automations: a rule's "notify" action
    NotificationKind.WEBHOOK_DISABLED: (True, True),  # automations: to the Admins
}
# Kinds only members with "notifications.team" choose (lumiodesk.permissions).
MANAGER_KINDS = frozenset({NotificationKind.DAILY_DIGEST, NotificationKind.WEBHOOK_DISABLED})
BADGE_CAP = 99

_muted: ContextVar[bool] = ContextVar("lumiodesk_notifications_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """No agent notification is created inside this block (demo seeding, historical imports, backfills)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted() -> bool:
    return _muted.get()


@dataclass(frozen=True)
class Draft:
    recipient_id: int
    title: str
    dedup_key: str
    body: str = ""
    url: str = ""


# --- who ----------------------------------------------------------------------------------------------------


def agents_of(organization_id: int, *, capability: str = "tickets.be_assigned") -> list[int]:
    """Active members who work tickets (or, with ``capability="notifications.team"``, who oversee the team:
    the roles come from the permission table)."""
    return list(
        Membership.objects.filter(organization_id=organization_id, is_active=True,
                                  role__in=roles_with(capability))
        .order_by("user_id").values_list("user_id", flat=True)
    )


def channels_for(organization_id: int, user_ids: Iterable[int], kind: str) -> dict[int, tuple[bool, bool]]:
    """(in_app, email) of each person for ``kind``, their choice or the default."""
    ids = set(user_ids)
    chosen = {
        user_id: (in_app, email)
        for user_id, in_app, email in NotificationPreference.objects.filter(
            organization_id=organization_id, kind=kind, user_id__in=ids
        ).values_list("user_id", "in_app", "email")
    }
    return {user_id: chosen.get(user_id, DEFAULTS[kind]) for user_id in ids}


# --- creating -----------------------------------------------------------------------------------------------

_INSERT = """
INSERT INTO lumiodesk_agentnotification
    (organization_id, recipient_id, kind, title, body, url, dedup_key, in_app, email, created_at)
VALUES {values}
ON CONFLICT (recipient_id, dedup_key) DO NOTHING
RETURNING id, email
"""


def notify(
    *, organization_id: int, kind: str, drafts: Sequence[Draft], exclude: Iterable[int | None] = (),
    at: datetime | None = None,
) -> list[int]:
    """Create the notifications each recipient wants and queue their emails after commit.

    ``exclude``: people never told (the agent who did the thing). Returns the ids created now.
    """
    if is_muted() or not drafts:
        return []
    if kind not in DEFAULTS:
        raise ValueError(f"unknown notification kind {kind!r}")
    skip = {pk for pk in exclude if pk is not None}
    drafts = [d for d in drafts if d.recipient_id not in skip]
    channels = channels_for(organization_id, (d.recipient_id for d in drafts), kind)
    at = at or timezone.now()
    rows: list = []
    seen: set[tuple[int, str]] = set()
    for d in drafts:
        in_app, email = channels[d.recipient_id]
        if not (in_app or email) or (d.recipient_id, d.dedup_key) in seen:
            continue
        seen.add((d.recipient_id, d.dedup_key))
        rows.append((organization_id, d.recipient_id, kind, d.title[:200], d.body, d.url[:500],
                     d.dedup_key[:200], in_app, email, at))
    if not rows:
        return []
    with connection.cursor() as cur:
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        cur.execute(_INSERT.format(values=values), [v for row in rows for v in row])
        created = cur.fetchall()
    to_email = [pk for pk, email in created if email]
    if to_email:
        transaction.on_commit(lambda: queue_emails(to_email))
    return [pk for pk, _email in created]


def queue_emails(notification_ids: Sequence[int]) -> None:
    """Hand the emails to Celery. If the broker is down the rows stay unsent and
    ``resend_unsent_emails`` (beat) queues them again."""
    from .tasks import send_agent_notification_email

    for pk in notification_ids:
        try:
            send_agent_notification_email.delay(pk)
        except Exception:  # noqa: BLE001 - the change is committed; the sweeper will retry
            log.exception("could not queue the email of agent notification %s", pk)


def resend_unsent_emails(*, now: datetime | None = None, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Queue again the emails still unsent after ``older_than`` (broker down, worker lost), for a day."""
    now = now or timezone.now()
    ids = list(
        AgentNotification.objects.filter(
            email=True, emailed_at__isnull=True, created_at__lte=now - older_than,
            created_at__gte=now - timedelta(days=1),
        ).order_by("id").values_list("id", flat=True)[:1000]
    )
    queue_emails(ids)
    return len(ids)


# --- the email ----------------------------------------------------------------------------------------------


def absolute(url: str) -> str:
    return f"{settings.SITE_URL}{url}"


def send_email(notification_id: int) -> bool:
    """Send one notification's email; False if it was sent already or is not wanted.

    At least once: a crash between sending and marking may send it twice, never zero times.
    """
    n = (
        AgentNotification.objects.select_related("recipient", "organization")
        .filter(pk=notification_id, email=True, emailed_at__isnull=True).first()
    )
    if n is None or not n.recipient.email or not n.recipient.is_active:
        return False
    # The link goes through the center: it marks the notification read and switches organization if needed.
    link = absolute(reverse("notifications:open", args=[n.pk]))
    context = {"n": n, "link": link, "organization": n.organization, "recipient": n.recipient}
    with override(n.organization.language):
        text = render_to_string("lumiodesk/email/agent_notification.txt", context)
        html = render_to_string("lumiodesk/email/agent_notification.html", context)
    mail = EmailMultiAlternatives(
        subject=f"[{n.organization.name}] {n.title}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[n.recipient.email],
        headers={"Auto-Submitted": "auto-generated", "X-LumioDesk-Notification": n.kind},
    )
    mail.attach_alternative(html, "text/html")
    mail.send()
    AgentNotification.objects.filter(pk=n.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return True


# --- the center ---------------------------------------------------------------------------------------------


def inbox(organization: Organization, user) -> QuerySet[AgentNotification]:
    return AgentNotification.objects.filter(organization=organization, recipient=user, in_app=True).order_by(
        "-created_at", "-id"
    )


def unread_count(organization: Organization, user) -> int:
    """Unread in-app notifications, counted up to ``BADGE_CAP + 1`` (the bell shows "99+")."""
    return (
        AgentNotification.objects.filter(organization=organization, recipient=user, in_app=True,
                                         read_at__isnull=True)
        .order_by()[: BADGE_CAP + 1].count()
    )


def mark_read(*, organization: Organization, user, ids: Iterable[int] | None = None) -> int:
    """Mark some (or, without ``ids``, all) of this person's notifications read."""
    qs = AgentNotification.objects.filter(organization=organization, recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


# --- preferences --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    kind: str
    label: str
    in_app: bool
    email: bool


def kinds_for(membership: Membership) -> list[str]:
    team = membership.is_active and role_can(membership.role, "notifications.team")
    return [k for k in NotificationKind.values if k not in MANAGER_KINDS or team]


def preferences_for(membership: Membership) -> list[Preference]:
    chosen = {
        kind: (in_app, email)
        for kind, in_app, email in NotificationPreference.objects.filter(
            organization_id=membership.organization_id, user_id=membership.user_id
        ).values_list("kind", "in_app", "email")
    }
    return [
        Preference(kind, NotificationKind(kind).label, *chosen.get(kind, DEFAULTS[kind]))
        for kind in kinds_for(membership)
    ]


@transaction.atomic
def save_preferences(*, membership: Membership, choices: dict[str, tuple[bool, bool]]) -> None:
    """Store this person's (in_app, email) per kind; kinds they may not have are ignored."""
    allowed = set(kinds_for(membership))
    for kind, (in_app, email) in choices.items():
        if kind not in allowed:
            continue
        NotificationPreference.objects.update_or_create(
            organization_id=membership.organization_id, user_id=membership.user_id, kind=kind,
            defaults={"in_app": bool(in_app), "email": bool(email)},
        )
