"""Reads for the console: the ticket list with its filters and counters, the ticket page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from crm.models import Customer
from lumiodesk import teams
from lumiodesk.models import AuditLog, Membership, Organization
from lumiodesk.permissions import roles_with

from .models import (
    Attachment,
    Channel,
    CustomerNotification,
    Message,
    MessageKind,
    Priority,
    ReplyTemplate,
    SavedView,
    Status,
    Tag,
    Ticket,
    TicketTag,
)

User = get_user_model()

SORTS = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "-updated": ("-updated_at", "-id"),
    "priority": ("-priority_rank", "-created_at", "-id"),
    # SLA: the nearest running due time first (set by the sla app); tickets without one last.
    "due": (F("sla_due_at").asc(nulls_last=True), "-created_at", "-id"),
}
SLA_FILTERS = ("overdue", "due_soon")
IN_PROGRESS = (Status.OPEN, Status.WAITING_INTERNAL)
# The open backlog: every status still waiting for someone (the list's ``status=active``).
ACTIVE = (Status.NEW, Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL)
# Queue hygiene (002 "Gestion de la file", "Ticket urgent"): the list's ``stale`` filter and the sla app's
# notification read these two rules from here.
STALE_FILTERS = ("in_progress_24h", "urgent_2h")
IN_PROGRESS_STALE_AFTER = timedelta(hours=24)  # "En cours" without any activity
URGENT_UPDATE_EVERY = timedelta(hours=2)  # an urgent ticket's customer hears from us at least this often
URGENT_WAITING_FOR_US = (Status.NEW, Status.OPEN, Status.WAITING_INTERNAL)
DATE_FILTERS = ("created_from", "created_to", "resolved_from", "resolved_to")  # local dates, inclusive
COUNT_CAP = 1000  # a filtered list counts its matches up to this many
_TOKEN = re.compile(r"[\w@.+-]+", re.UNICODE)


def _month_start() -> datetime:
    # The calendar month in UTC, like invoices and the volume alerts (billing).
    return timezone.now().astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def tickets_created_this_month(organization: Organization) -> int:
    return Ticket.objects.filter(organization=organization, created_at__gte=_month_start()).count()


# (database, organization, month) -> the lowest number of the month's tickets, read once per process and month.
_FIRST_NUMBER_OF_MONTH: dict[tuple[str, int, datetime], int] = {}


def tickets_created_this_month_at_most(organization: Organization, ticket: Ticket) -> int | None:
    """At most how many tickets the organization created this month, now that ``ticket`` is created, without
    counting them (``billing.usage.usage_at_most``): numbers only grow (``next_number``), so the month's tickets
    are numbered from the month's lowest number (read once per process and month: it can only go up, when
    a ticket is deleted) to this one's, give or take those created at the same time (the caller's margin).
    None when it cannot say (a ticket dated before this month)."""
    start = _month_start()
    if ticket.created_at < start or not ticket.number:
        return None
    key = (settings.DATABASES["default"]["NAME"], organization.pk, start)
    first = _FIRST_NUMBER_OF_MONTH.get(key)
    if first is None:
        first = Ticket.objects.filter(organization=organization, created_at__gte=start).aggregate(
            first=Min("number"))["first"]
        if first is None:
            return None
        if len(_FIRST_NUMBER_OF_MONTH) > 10_000:  # months gone by, organizations deleted
            _FIRST_NUMBER_OF_MONTH.clear()
        _FIRST_NUMBER_OF_MONTH[key] = first
    return max(ticket.number - first + 1, 0)


@dataclass
class TicketFilters:
    status: str = ""
    priority: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    team: str = ""  # team id (lumiodesk.teams): tickets assigned to one of its active members
    tag: str = ""
    customer: str = ""  # customer id
    company: str = ""  # company id: its customers' tickets
    q: str = ""
    sort: str = "-created"
    sla: str = ""  # "", "overdue" or "due_soon"
    automatic: str = ""  # "", "1" (automatic mail only) or "0" (written by people)
    channel: str = ""
    created_from: str = ""  # YYYY-MM-DD in the organization's time zone (the dashboard's drill-down)
    created_to: str = ""
    resolved_from: str = ""
    resolved_to: str = ""
    stale: str = ""  # "", "in_progress_24h" or "urgent_2h" (queue hygiene)
    spam: str = ""  # "", "1" (marked as spam only) or "0" (not spam: the dashboard's drill-down)
    errors: list[str] = field(default_factory=list)
    _tag: tuple | None = field(default=None, repr=False, compare=False)  # selectors._tag_of

    @classmethod
    def from_params(cls, params) -> TicketFilters:
        f = cls(**{k: (params.get(k) or "").strip() for k in FILTER_KEYS})
        if f.status and f.status not in Status.values and f.status not in ("in_progress", "active"):
            f.errors.append(f.status)
            f.status = ""
        if f.priority and f.priority not in Priority.values:
            f.errors.append(f.priority)
            f.priority = ""
        if f.assignee not in ("", "me", "none") and not f.assignee.isdecimal():
            f.assignee = ""
        if f.team and not (f.team.isdecimal() and f.team.isascii() and len(f.team) < 12):
            f.team = ""
        if f.customer and not f.customer.isdecimal():
            f.customer = ""
        if f.company and not f.company.isdecimal():
            f.company = ""
        if f.sort not in SORTS:
            f.sort = "-created"
        if f.sla and f.sla not in SLA_FILTERS:
            f.errors.append(f.sla)
            f.sla = ""
        if f.automatic not in ("", "0", "1"):
            f.automatic = ""
        if f.spam not in ("", "0", "1"):
            f.spam = ""
        if f.channel and f.channel not in Channel.values:
            f.errors.append(f.channel)
            f.channel = ""
        for key in DATE_FILTERS:
            if getattr(f, key) and _parse_date(getattr(f, key)) is None:
                f.errors.append(getattr(f, key))
                setattr(f, key, "")
        if f.stale and f.stale not in STALE_FILTERS:
            f.errors.append(f.stale)
            f.stale = ""
        f.q = f.q[:200]
        return f

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in FILTER_KEYS
                if getattr(self, k) and not (k == "sort" and getattr(self, k) == "-created")}

    @property
    def only_status(self) -> bool:
        """Filtered by status at most: the counters already know the count."""
        return self.status != "active" and not any(
            getattr(self, k) for k in FILTER_KEYS if k not in ("status", "sort")
        )


# Filters the list's form has no field for (the dashboard's drill-down): kept as hidden inputs.
DRILL_DOWN_FILTERS = (*DATE_FILTERS, "channel", "stale", "spam", "company")
FILTER_KEYS = ("status", "priority", "assignee", "team", "tag", "customer", "company", "q", "sort", "sla", "automatic",
               "channel", *DATE_FILTERS, "stale", "spam")


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def local_day_start(day: date, time_zone: str) -> datetime:
    """Midnight of ``day`` in the organization's time zone (an aware datetime)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(time_zone))


def local_today(organization: Organization, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(organization.time_zone)).date()


def search_query(text: str) -> SearchQuery | None:
    """Each word as a prefix, all required: 'factur dupont' finds 'facture' from 'Dupont'."""
    tokens = [t.strip(".-+") for t in _TOKEN.findall(text)]
    tokens = [t.replace("'", "") for t in tokens if t]
    if not tokens:
        return None
    raw = " & ".join(f"'{t}':*" for t in tokens[:8])
    return SearchQuery(raw, search_type="raw", config="lumiodesk_fr")


SMALL_TAG = 1500  # tickets: a tag with up to this many is read by ids; a larger one while walking the list

# A ticket has the tag: a subquery PostgreSQL may not pull up into a join (OFFSET 0), so it is checked ticket
# by ticket while the list is walked in its order, and stops with the page.
# The tag's tickets by id: an array read first, then the tickets by primary key.
_TAG_IDS_SQL = (
    "tickets_ticket.id = ANY(ARRAY(SELECT tt.ticket_id FROM tickets_tickettag tt "
    "WHERE tt.organization_id = %s AND tt.tag_id = %s))"
)
_HAS_TAG_SQL = (
    "EXISTS (SELECT 1 FROM tickets_tickettag tt WHERE tt.ticket_id = tickets_ticket.id AND tt.tag_id = %s OFFSET 0)"
)


_TAG_SQL = """
SELECT t.id, (SELECT count(*) FROM (SELECT 1 FROM tickets_tickettag tt
                                    WHERE tt.organization_id = t.organization_id AND tt.tag_id = t.id LIMIT %s) s)
FROM tickets_tag t WHERE t.organization_id = %s AND t.name = %s
"""


def _tag_of(organization: Organization, filters: TicketFilters) -> tuple[int, int] | None:
    """(id, tickets up to SMALL_TAG + 1) of the filter's tag, read once for the page and its count. The id
    first: with a constant id the planner reads the tag's share from the column statistics (a join on the
    tag's name estimated 76 rows for 7,000 and chose a plan 20x slower)."""
    key = (organization.pk, filters.tag.lower())
    if filters._tag is None or filters._tag[0] != key:
        with connection.cursor() as cur:
            cur.execute(_TAG_SQL, [SMALL_TAG + 1, organization.pk, key[1]])
            row = cur.fetchone()
        filters._tag = (key, tuple(row) if row else None)
    return filters._tag[1]


def _has_tag(organization: Organization, tag_id: int, size: int, *, for_page: bool):
    """The tag filter, in the form that suits a page or a count.

    PostgreSQL's statistics cover every organization: a tag on 7 % of one organization's tickets looks
    like 0.35 % of a table holding others, and for a page the planner read the whole organization
    (250 ms at 100,000 tickets among 2 million). So the page reads a small tag's tickets by id, and
    walks the list in order checking a large one's (2 ms); a count hashes the tag's rows (6 ms)."""
    tagged = TicketTag.objects.filter(organization=organization, tag_id=tag_id)
    if not for_page:
        return Q(id__in=tagged.values("ticket_id"))
    if size <= SMALL_TAG:
        return Q(RawSQL(_TAG_IDS_SQL, [organization.pk, tag_id], output_field=BooleanField()))
    return Q(RawSQL(_HAS_TAG_SQL, [tag_id], output_field=BooleanField()))


def ticket_list(organization: Organization, filters: TicketFilters, *, user) -> QuerySet[Ticket]:
    """The list page's tickets, filtered and ordered (urgent first)."""
    qs = _filtered(organization, filters, user=user, for_page=True)
    if filters.sort == "priority":
        qs = qs.annotate(
            priority_rank=Case(
                When(priority=Priority.URGENT, then=Value(4)), When(priority=Priority.HIGH, then=Value(3)),
                When(priority=Priority.NORMAL, then=Value(2)), default=Value(1), output_field=IntegerField(),
            )
        )
    return (
        qs.select_related("customer", "customer__company", "assignee")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .defer("search_vector")
        .order_by("-is_urgent", *SORTS[filters.sort])
    )


def count_matches(organization: Organization, filters: TicketFilters, *, user, cap: int) -> int:
    """How many tickets the filters match, counted up to ``cap + 1`` (a broad search costs more to count
    than to show)."""
    return _filtered(organization, filters, user=user, for_page=False)[: cap + 1].count()


def matching_tickets(organization: Organization, filters: TicketFilters, *, user) -> QuerySet[Ticket]:
    """Every ticket the list's filters match, unordered (an export reads the whole list)."""
    return _filtered(organization, filters, user=user, for_page=False)


def _filtered(organization: Organization, filters: TicketFilters, *, user, for_page: bool) -> QuerySet[Ticket]:
    qs = Ticket.objects.filter(organization=organization)
    if filters.status == "in_progress":
        qs = qs.filter(status__in=IN_PROGRESS)
    elif filters.status == "active":
        qs = qs.filter(status__in=ACTIVE)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.priority:
        qs = qs.filter(priority=filters.priority)
    if filters.automatic:  # index ticket_automatic_idx
        qs = qs.filter(is_automatic=filters.automatic == "1")
    if filters.spam:  # index ticket_spam_idx (few rows)
        qs = qs.filter(spam_at__isnull=filters.spam != "1")
    if filters.assignee == "me":
        qs = qs.filter(assignee=user)
    elif filters.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif filters.assignee:
        qs = qs.filter(assignee_id=int(filters.assignee))
    if filters.team:  # the team's active members (a few ids), then their tickets (index ticket_assignee_idx)
        qs = qs.filter(assignee_id__in=teams.active_member_ids(organization, int(filters.team)))
    if filters.tag:
        tag = _tag_of(organization, filters)
        qs = qs.none() if tag is None else qs.filter(_has_tag(organization, *tag, for_page=for_page))
    if filters.customer:
        qs = qs.filter(customer_id=int(filters.customer))
    if filters.company:  # the company's customers, then their tickets (index ticket_customer_idx)
        qs = qs.filter(customer__in=Customer.objects.filter(organization=organization,
                                                            company_id=int(filters.company)).values("pk"))
    if filters.sla == "overdue":  # a running SLA clock past its due time (index ticket_sla_due_idx)
        qs = qs.filter(sla_due_at__lt=timezone.now())
    elif filters.sla == "due_soon":  # within the "SLA soon breached" warning's lead
        now = timezone.now()
        qs = qs.filter(sla_due_at__gte=now, sla_warn_at__lte=now)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    tz = organization.time_zone
    for key, lookup in (("created_from", "created_at__gte"), ("resolved_from", "resolved_at__gte")):
        if getattr(filters, key):  # index ticket_list_idx / ticket_resolved_idx
            qs = qs.filter(**{lookup: local_day_start(_parse_date(getattr(filters, key)), tz)})
    for key, lookup in (("created_to", "created_at__lt"), ("resolved_to", "resolved_at__lt")):
        if getattr(filters, key):
            qs = qs.filter(**{lookup: local_day_start(_parse_date(getattr(filters, key)) + timedelta(days=1), tz)})
    if filters.stale:
        qs = qs.filter(stale_condition(filters.stale, timezone.now()))
    if filters.q:
        q = filters.q.strip().lstrip("#")
        query = search_query(filters.q)
        cond = Q(search_vector=query) if query is not None else Q(pk__in=[])
        if q.isdecimal() and len(q) < 10:
            cond |= Q(number=int(q))
        qs = qs.filter(cond)
    return qs


def stale_condition(kind: str, now: datetime) -> Q:
    """Queue hygiene (002): "En cours" tickets without any activity for 24 h; urgent tickets still open whose
    customer got no public reply for 2 h (nor since creation, if it is older than that)."""
    if kind == "in_progress_24h":  # index ticket_status_list_idx, then the few rows of those statuses
        return Q(status__in=IN_PROGRESS, updated_at__lt=now - IN_PROGRESS_STALE_AFTER)
    since = now - URGENT_UPDATE_EVERY
    recent_reply = Message.objects.filter(ticket_id=OuterRef("pk"), kind=MessageKind.REPLY, created_at__gte=since)
    # index ticket_urgent_active_idx (its condition names the priority, not the generated is_urgent)
    return Q(priority=Priority.URGENT, status__in=URGENT_WAITING_FOR_US, created_at__lt=since) & ~Q(
        Exists(recent_reply))


CLOSED_COUNT_TTL = 120  # seconds; the key is dropped at once when a ticket enters or leaves "closed"
RESOLVED_TODAY_TTL = 120  # seconds; dropped at once when a ticket is resolved, closed or reopened; a new day misses


def closed_count_key(organization_id: int) -> str:
    return f"tickets:closed-count:{settings.DATABASES['default']['NAME']}:{organization_id}"


def resolved_today_key(organization_id: int) -> str:
    return f"tickets:resolved-today:{settings.DATABASES['default']['NAME']}:{organization_id}"


def forget_counts(*keys: str) -> None:
    """Drop these cached counts now, and again after the commit (once the change is visible to other
    requests: a request reading in between would cache the old figure). The pipeline's subscriber
    ``tickets.subscribers.forget_cached_counts`` does the same through the pipeline's after-commit list."""
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def _count_closed(organization: Organization) -> int:
    return Ticket.objects.filter(organization=organization, status=Status.CLOSED).count()


def _count_resolved_since(organization: Organization, day_start: datetime) -> int:
    # index ticket_resolved_idx; closing as spam is no performance
    return Ticket.objects.filter(organization=organization, resolved_at__gte=day_start, spam_at__isnull=True).count()


def _cached_counts(organization: Organization) -> tuple[int, int]:
    """(closed, resolved today), both from Redis in one round trip, each counted again only when missing.

    Closed tickets are most of an organization's: counting them is the costly part of the counters (an
    index-only scan of ~94,000 entries at 100,000 tickets, 8-10 ms on every list page).

    "Today" is the organization's: the resolved figure is stored with the midnight it counts from, so the
    first read after midnight (or after a change of time zone) counts again. Both keys are dropped when a
    ticket is resolved, closed, reopened, marked spam or deleted (``tickets.subscribers``,
    ``tickets.services.spam``), at once and again after the commit."""
    day_start = local_day_start(local_today(organization), organization.time_zone)
    closed_key, resolved_key = closed_count_key(organization.pk), resolved_today_key(organization.pk)
    cached = cache.get_many([closed_key, resolved_key])
    closed = cached.get(closed_key)
    if closed is None:
        closed = _count_closed(organization)
        cache.set(closed_key, closed, CLOSED_COUNT_TTL)
    stamp = day_start.isoformat()
    resolved = cached.get(resolved_key)
    if isinstance(resolved, list | tuple) and len(resolved) == 2 and resolved[0] == stamp:
        resolved_today = resolved[1]
    else:
        resolved_today = _count_resolved_since(organization, day_start)
        cache.set(resolved_key, (stamp, resolved_today), RESOLVED_TODAY_TTL)
    return closed, resolved_today


def counters(organization: Organization) -> dict[str, int]:
    """The five counters of the support guide, plus the closed ones.

    The statuses still in play are few and counted exactly on ticket_status_list_idx (one index-only
    scan); the closed count and "Résolus : votre performance du jour" (002: resolved since midnight in the
    organization's time zone; the list's status filter still shows every resolved ticket) come from
    Redis (``_cached_counts``).
    """
    active = [s for s in Status.values if s != Status.CLOSED]
    row = dict.fromkeys(Status.values, 0)
    row.update(
        Ticket.objects.filter(organization=organization, status__in=active)
        .values_list("status").annotate(n=Count("*")).order_by()
    )
    row["closed"], row["resolved_today"] = _cached_counts(organization)
    row["total"] = sum(row[s] for s in active) + row["closed"]
    row["in_progress"] = row["open"] + row["waiting_internal"]
    return row


def count_for(filters: TicketFilters, counts: dict[str, int]) -> int | None:
    if not filters.only_status:
        return None
    return counts[filters.status] if filters.status else counts["total"]


def team(organization: Organization) -> list:
    """Members who may be assigned tickets, by name."""
    return list(
        User.objects.filter(
            memberships__organization=organization, memberships__is_active=True,
            memberships__role__in=roles_with("tickets.be_assigned"),
        ).order_by("first_name", "last_name", "email")
    )


def tags_of(organization: Organization) -> list[Tag]:
    return list(Tag.objects.filter(organization=organization).order_by("name"))


def saved_views(organization: Organization) -> list[SavedView]:
    return list(SavedView.objects.filter(organization=organization))


def reply_templates(organization: Organization) -> list[ReplyTemplate]:
    return list(ReplyTemplate.objects.filter(organization=organization))


def get_ticket(organization: Organization, number: int) -> Ticket | None:
    return (
        Ticket.objects.filter(organization=organization, number=number)
        .select_related("customer", "customer__company", "assignee", "organization")
        .defer("search_vector")
        .first()
    )


@dataclass
class TimelineEntry:
    at: datetime
    message: Message | None = None
    event: AuditLog | None = None


TIMELINE_ACTIONS = ("ticket.status", "ticket.assigned", "ticket.priority", "ticket.tags")


def ticket_page(ticket: Ticket) -> dict:
    """Everything the ticket page shows, in a fixed number of queries."""
    messages = list(
        Message.objects.filter(ticket=ticket)
        .select_related("author_user", "author_customer")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )
    events = list(
        AuditLog.objects.filter(
            organization_id=ticket.organization_id, target_type="ticket", target_id=ticket.pk,
            action__in=TIMELINE_ACTIONS,
        ).select_related("actor").order_by("created_at", "id")
    )
    timeline = [TimelineEntry(at=m.created_at, message=m) for m in messages]
    timeline += [TimelineEntry(at=e.created_at, event=e) for e in events]
    timeline.sort(key=lambda e: (e.at, 0 if e.message else 1))
    notifications = list(CustomerNotification.objects.filter(ticket=ticket).order_by("-created_at")[:10])
    return {
        "timeline": timeline,
        "message_count": len(messages),
        "ticket_tags": list(ticket.tags.order_by("name")),
        "notifications": notifications,
        # The latest email to the customer came back (a delivery report matched to it) or could not be sent (an
        # internal address): the page says so.
        "failed_email": next((n for n in notifications if n.email and (n.emailed_at or n.email_failed_at)), None)
        if any(n.email_failed_at for n in notifications) else None,
        "other_tickets": list(
            Ticket.objects.filter(organization_id=ticket.organization_id, customer_id=ticket.customer_id)
            .exclude(pk=ticket.pk).defer("search_vector").order_by("-is_urgent", "-created_at")[:5]
        ),
    }


def failed_email_of_customer(customer: Customer) -> CustomerNotification | None:
    """The latest email sent to this customer, when it came back (a delivery report matched to it) or could
    not be sent (an internal address): the customer record says so, as the ticket page does. One query (index
    custnotif_customer_idx)."""
    latest = (
        CustomerNotification.objects.filter(
            Q(emailed_at__isnull=False) | Q(email_failed_at__isnull=False),
            organization_id=customer.organization_id, customer=customer, email=True,
        )
        .select_related("ticket")
        .only("email_failed_at", "email_failure", "emailed_at", "ticket__number")
        .order_by("-created_at")
        .first()
    )
    return latest if latest is not None and latest.email_failed_at else None


def membership_of(organization: Organization, user) -> Membership | None:
    return Membership.objects.filter(organization=organization, user=user, is_active=True).first()


def api_ticket(organization: Organization, number: int) -> Ticket | None:
    """A ticket with its tags and messages, for the REST API (tickets.api): four queries."""
    return (
        Ticket.objects.filter(organization=organization, number=number)
        .select_related("customer", "assignee")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.only("id", "name")),
            Prefetch("messages", queryset=Message.objects.select_related("author_user", "author_customer")
                     .order_by("created_at", "id")),
        )
        .defer("search_vector")
        .first()
    )
