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

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from .models import AgentNotification, Membership, NotificationPreference, Organization
from .permissions import members_with, role_can

log = logging.getLogger(__name__)
BADGE_CAP = 99

# --- the kinds: registered by the app that owns them ---------------------------------------------------------


@dataclass(frozen=True)
class AgentNotificationKind:
    """A kind of agent notification, registered at startup by the app that sends it (``tickets``: assigned,
    mention, customer reply, urgent; ``sla``: warning, breach, daily digest; ``automations``: rule, webhook
    disabled), as the apps above ``billing`` register their counters in ``billing.usage``. The core knows no
    kind by name. ``position`` orders the preferences page."""

    code: str
    label: str  # lazy translation
    position: int
    in_app: bool = True  # the defaults, when a person has not chosen
    email: bool = True
    managers_only: bool = False  # offered only to members with "notifications.team" (lumiodesk.permissions)


_kinds: dict[str, AgentNotificationKind] = {}


def register_kind(kind: AgentNotificationKind) -> None:
    _kinds[kind.code] = kind


def registered_kinds() -> list[AgentNotificationKind]:
    return sorted(_kinds.values(), key=lambda k: k.position)


def label_of(kind: str) -> str:
    """The kind's label; the code itself for a kind no app registers any more (old rows)."""
    k = _kinds.get(kind)
    return str(k.label) if k else kind


def _defaults(kind: str) -> tuple[bool, bool]:
    k = _kinds[kind]
    return k.in_app, k.email


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
        members_with(capability, organization_id=organization_id)
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
    return {user_id: chosen.get(user_id, _defaults(kind)) for user_id in ids}


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
    if kind not in _kinds:  # the only writer checks what the table no longer constrains
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
    return [k.code for k in registered_kinds() if not k.managers_only or team]


def preferences_for(membership: Membership) -> list[Preference]:
    chosen = {
        kind: (in_app, email)
        for kind, in_app, email in NotificationPreference.objects.filter(
            organization_id=membership.organization_id, user_id=membership.user_id
        ).values_list("kind", "in_app", "email")
    }
    return [
        Preference(kind, _kinds[kind].label, *chosen.get(kind, _defaults(kind)))
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


# The task is defined here, beside the code that queues it (``queue_emails``), and listed in ``lumiodesk.tasks``
# under its registered name: a task module that imports this one and is imported by it would be a cycle.
@shared_task(
    name="lumiodesk.tasks.send_agent_notification_email", bind=True, autoretry_for=(OSError,), retry_backoff=30,
    retry_backoff_max=3600, max_retries=8, retry_jitter=True,
)
def send_agent_notification_email(self, notification_id: int) -> bool:
    return send_email(notification_id)
