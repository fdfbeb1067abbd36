"""Every change of state of a ticket goes through one of these functions.

Views, email intake, the widget, the API, imports and Celery tasks all call them,
so each rule (reopen on customer reply, new -> open on the first public reply,
customer notifications, audit) holds on every channel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import DurationField, F, Func, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from billing.catalogue import Limit
from billing.services import limit_status
from crm.models import Customer
from crm.services import get_or_create_customer
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput, NotPermitted, TransitionNotAllowed
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, member_may, require

from .attachments import CheckedFile, check_uploads
from .content import body_from
from .events import Change, emit
from .models import (
    Attachment,
    Channel,
    Message,
    MessageKind,
    NotificationKind,
    Priority,
    ReplyTemplate,
    SavedView,
    Status,
    Tag,
    Ticket,
    TicketTag,
)
from .notifications import notify_customer

log = logging.getLogger(__name__)

# The lifecycle (DESIGN.md). Reopening is any move back to ``open``.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL, Status.RESOLVED,
                           Status.CLOSED}),
    Status.OPEN: frozenset({Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL, Status.RESOLVED, Status.CLOSED}),
    Status.WAITING_CUSTOMER: frozenset({Status.OPEN, Status.WAITING_INTERNAL, Status.RESOLVED, Status.CLOSED}),
    Status.WAITING_INTERNAL: frozenset({Status.OPEN, Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}
# Status changes the customer hears about (002); never new -> open.
NOTIFIED_STATUSES = {
    Status.WAITING_CUSTOMER: NotificationKind.WAITING_CUSTOMER,
    Status.RESOLVED: NotificationKind.RESOLVED,
    Status.CLOSED: NotificationKind.CLOSED,
}
REOPENED_BY_CUSTOMER = {Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED}


# --- helpers -----------------------------------------------------------------------------------------


def _check_assignee(organization: Organization, assignee) -> None:
    if assignee is not None and not member_may(organization, assignee, "tickets.be_assigned"):
        raise NotPermitted(_("Cet agent ne peut pas recevoir de tickets."))


def _next_number(organization: Organization) -> int:
    """The organization's next ticket number, under the organization row's lock.

    Never below the highest number in use: a stale ``Organization.save()`` (settings form,
    admin) may write back an old ``last_ticket_number``.
    """
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE lumiodesk_organization SET last_ticket_number = GREATEST(last_ticket_number, "
            "(SELECT COALESCE(MAX(number), 0) FROM tickets_ticket WHERE organization_id = %s)) + 1 "
            "WHERE id = %s RETURNING last_ticket_number",
            [organization.pk, organization.pk],
        )
        return cur.fetchone()[0]


# ``{assignments}``: other columns saved in the same UPDATE (``_save_with_search_document``).
_SEARCH_DOCUMENT_TEMPLATE = """
UPDATE tickets_ticket t SET {assignments}search_vector =
    setweight(to_tsvector('lumiodesk_fr', t.subject || ' ' || t.number::text), 'A')
    || setweight(to_tsvector('lumiodesk_fr',
         coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '') || ' ' || c.email || ' '
         || translate(c.email, '@.', '  ')), 'B')
    || setweight(to_tsvector('lumiodesk_fr', left(coalesce(
         (SELECT string_agg(m.body_text, ' ' ORDER BY m.created_at) FROM tickets_message m
          WHERE m.ticket_id = t.id), ''), 200000)), 'C')
FROM crm_customer c
WHERE c.id = t.customer_id AND t.id = ANY(%s)
"""
SEARCH_DOCUMENT_SQL = _SEARCH_DOCUMENT_TEMPLATE.format(assignments="")


def refresh_search_document(ticket_ids: Sequence[int]) -> None:
    """Recompute the search vector (subject, number, customer, message text) of these tickets."""
    with connection.cursor() as cur:
        cur.execute(SEARCH_DOCUMENT_SQL, [list(ticket_ids)])


def _save_with_search_document(ticket: Ticket, fields: Iterable[str]) -> None:
    """Save these fields of the ticket and recompute its search document in one UPDATE: two would write the
    row, and an entry in each of its indexes, twice (what a message costs every channel)."""
    names = sorted(fields)
    if not names or {"subject", "customer", "number"} & set(names):
        # The document reads the row as it was before the UPDATE: a new subject or customer needs it saved first.
        if names:
            ticket.save(update_fields=names)
        refresh_search_document([ticket.pk])
        return
    assignments, params = [], []
    for name in names:
        field = Ticket._meta.get_field(name)
        assignments.append(f"{connection.ops.quote_name(field.column)} = %s")
        params.append(field.get_db_prep_save(getattr(ticket, field.attname), connection))
    sql = _SEARCH_DOCUMENT_TEMPLATE.format(assignments="".join(f"{a}, " for a in assignments))
    with connection.cursor() as cur:
        cur.execute(sql, [*params, [ticket.pk]])


def _validate_choice(value: str, choices, what: str) -> str:
    if value not in choices.values:
        raise InvalidInput(_("%(what)s inconnu(e) : %(value)s") % {"what": what, "value": value})
    return value


def _store_attachments(message: Message, checked: Sequence[CheckedFile]) -> list[Attachment]:
    """Write files already validated by ``check_uploads``; on failure remove what was written."""
    saved: list[Attachment] = []
    try:
        for f in checked:
            att = Attachment(
                organization_id=message.organization_id,
                message=message,
                token=f.token,
                filename=f.filename,
                content_type=f.content_type,
                size=f.size,
                content_id=getattr(f.upload, "content_id", "")[:255],  # set by the email intake
            )
            att.file.save(f.token, f.upload, save=False)
            saved.append(att)
        Attachment.objects.bulk_create(saved)
    except Exception:
        for att in saved:
            att.file.delete(save=False)
        raise
    return saved


# Creating a ticket and adding a message check their input first, then write in a transaction of their
# own, or a savepoint inside the caller's: a failure while writing (a forbidden next status, a file that
# cannot be stored) undoes the ticket or the message alone. ``savepoint=False`` is for a caller that drops
# its whole transaction on any failure (the email intake, which then quarantines the message): two round
# trips less on every email.

# --- creation ----------------------------------------------------------------------------------------


def create_ticket(
    *,
    organization: Organization,
    customer: Customer,
    subject: str,
    body: str = "",
    body_html: str = "",
    channel: str = Channel.MANUAL,
    priority: str = Priority.NORMAL,
    actor: Actor,
    assignee=None,
    tags: Iterable[str] = (),
    attachments: Sequence[UploadedFile] = (),
    created_at: datetime | None = None,
    imported: bool = False,
    mailbox=None,
    body_quoted: str = "",
    email_message_id: str = "",
    savepoint: bool = True,
    automatic: bool = False,
    out_of_sla: bool = False,
) -> Ticket:
    """Open a ticket with its first message.

    ``automatic``: written by a machine (email intake): no agent notification, no automatic email to its
    sender; ``out_of_sla``: no SLA clock (the organization's setting for automatic mail).

    ``actor`` is the member who created it by hand, or the system (the channel the customer wrote in).
    The first message is the customer's own words, whoever typed them.
    Tickets over the monthly quota are still accepted (section 9): the quota only alerts.
    """
    subject = (subject or "").strip()
    if not subject:
        raise InvalidInput(_("Le sujet est obligatoire."))
    if len(subject) > 255:
        raise InvalidInput(_("Le sujet ne peut dépasser 255 caractères."))
    _validate_choice(channel, Channel, _("Canal"))
    _validate_choice(priority, Priority, _("Priorité"))
    if customer.organization_id != organization.pk:
        raise InvalidInput(_("Ce client n'appartient pas à cette organisation."))
    require(actor, "tickets.create", organization)
    _check_assignee(organization, assignee)
    user = actor.user
    html_body, text_body = body_from(text=body, html_body=body_html)
    if not text_body and not attachments:
        raise InvalidInput(_("La description est obligatoire."))
    tag_names = _clean_tag_names(tags)
    files = check_uploads(list(attachments))

    with transaction.atomic(savepoint=savepoint):  # see the note above create_ticket
        now = created_at or timezone.now()
        ticket = Ticket.objects.create(
            organization=organization,
            number=_next_number(organization),
            subject=subject,
            priority=priority,
            channel=channel,
            customer=customer,
            assignee=assignee,
            imported=imported,
            is_automatic=automatic,
            out_of_sla=out_of_sla,
            mailbox=mailbox,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            last_customer_message_at=now,
        )
        message = Message.objects.create(
            organization=organization,
            ticket=ticket,
            kind=MessageKind.CUSTOMER,
            author_customer=customer,
            channel=channel,
            body_html=html_body,
            body_text=text_body,
            body_quoted=body_quoted,
            email_message_id=email_message_id,
            created_at=now,
        )
        ticket.first_message = message
        _store_attachments(message, files)
        if tag_names:
            _set_tags(ticket, tag_names)
        # Domain event (tickets.events): sla stamps the due times, agents are told after commit.
        stamped = emit(ticket, Change.CREATED, now=now, actor=user, message=message)
        _save_with_search_document(ticket, stamped or ())
        audit.record(
            organization=organization, actor=user, action="ticket.created", target_type="ticket",
            target_id=ticket.pk, channel=channel, imported=imported,
        )
        return ticket


@transaction.atomic
def create_ticket_for_contact(
    *, organization: Organization, email: str, name: str = "", company_name: str = "", **ticket_fields
) -> Ticket:
    """Find or create the customer by email and open the ticket, in one transaction:
    a refused ticket leaves no customer behind."""
    customer = get_or_create_customer(
        organization=organization, email=email, name=name, company_name=company_name
    )
    return create_ticket(organization=organization, customer=customer, **ticket_fields)


def tickets_quota(organization: Organization):
    return limit_status(organization, Limit.TICKETS_PER_MONTH)


# --- messages ----------------------------------------------------------------------------------------


def add_message(
    *,
    ticket: Ticket,
    kind: str,
    body: str = "",
    body_html: str = "",
    actor: Actor | None = None,
    author_customer: Customer | None = None,
    channel: str | None = None,
    attachments: Sequence[UploadedFile] = (),
    then_status: str | None = None,
    created_at: datetime | None = None,
    body_quoted: str = "",
    email_message_id: str = "",
    savepoint: bool = True,
) -> Message:
    """Add a customer message, a public reply or an internal note.

    - a public agent reply on ``new`` moves the ticket to ``open`` and sets the first response;
    - a customer message on ``waiting_customer``, ``resolved`` or ``closed`` reopens it;
    - the customer is told of a public reply, by their preference; never of a note.
    ``then_status`` lets an agent reply and set the status in one step.
    ``actor``: who writes a reply or a note (a member with ``tickets.reply`` / ``tickets.note``, or the
    system); a customer message needs none (its author is ``author_customer``, the channel vouched for them).
    """
    _validate_choice(kind, MessageKind, _("Type de message"))
    organization = ticket.organization
    if kind == MessageKind.CUSTOMER:
        author_customer = author_customer or ticket.customer
        if author_customer.organization_id != ticket.organization_id:
            raise InvalidInput(_("Ce client n'appartient pas à cette organisation."))
        author_user = None
    else:
        require(actor, "tickets.note" if kind == MessageKind.NOTE else "tickets.reply", organization)
        author_user = actor.user
    html_body, text_body = body_from(text=body, html_body=body_html)
    if not text_body and not attachments:
        raise InvalidInput(_("Le message est vide."))
    if then_status:
        _validate_choice(then_status, Status, _("Statut"))
    files = check_uploads(list(attachments))

    with transaction.atomic(savepoint=savepoint):  # see the note above create_ticket
        ticket = Ticket.objects.select_for_update().select_related("customer").get(pk=ticket.pk)
        ticket.organization = organization
        now = created_at or timezone.now()
        message = Message.objects.create(
            organization=organization,
            ticket=ticket,
            kind=kind,
            author_user=author_user,
            author_customer=author_customer if kind == MessageKind.CUSTOMER else None,
            channel=channel or (ticket.channel if kind == MessageKind.CUSTOMER else Channel.MANUAL),
            body_html=html_body,
            body_text=text_body,
            body_quoted=body_quoted,
            email_message_id=email_message_id,
            created_at=now,
        )
        _store_attachments(message, files)

        fields = {"updated_at"}
        ticket.updated_at = now
        if kind == MessageKind.CUSTOMER:
            ticket.last_customer_message_at = now
            fields.add("last_customer_message_at")
            if ticket.status in REOPENED_BY_CUSTOMER:
                _apply_status(ticket, Status.OPEN, actor=None, now=now, fields=fields, reason="customer_reply")
        elif kind == MessageKind.REPLY:
            if ticket.first_response_at is None:
                ticket.first_response_at = now
                fields.add("first_response_at")
            if ticket.status == Status.NEW and then_status in (None, Status.OPEN):
                _apply_status(ticket, Status.OPEN, actor=author_user, now=now, fields=fields, reason="first_reply")
        fields |= emit(ticket, Change.MESSAGE, now=now, actor=author_user, message=message)  # domain event
        _save_with_search_document(ticket, fields)  # with the new message's words

        if kind == MessageKind.REPLY and not ticket.imported:
            notify_customer(ticket=ticket, kind=NotificationKind.AGENT_REPLY, message=message)
        if then_status and then_status != ticket.status:
            # One action, one email: the reply's email already shows the new status.
            change_status(
                ticket=ticket, status=then_status, actor=actor,
                email_customer=kind != MessageKind.REPLY, at=now,
            )
            refresh_search_document([ticket.pk])
        audit.record(
            organization=organization, actor=author_user, action=f"message.{kind}", target_type="ticket",
            target_id=ticket.pk, message_id=message.pk,
        )
        return message


# --- status, assignment, priority, tags ---------------------------------------------------------------


def _apply_status(
    ticket: Ticket, status: str, *, actor, now: datetime, fields: set[str], reason: str, email_customer: bool = True,
    message: Message | None = None,
) -> str:
    """Move the in-memory ticket to ``status`` (checked), stamping the timestamps. Returns the old status.

    ``message`` is the message that explains the change to the customer (the "closed for lack of reply" one).
    """
    old = ticket.status
    if status not in TRANSITIONS[old]:
        raise TransitionNotAllowed(
            _("Passage de « %(old)s » à « %(new)s » non autorisé.")
            % {"old": Status(old).label, "new": Status(status).label}
        )
    ticket.status = status
    ticket.status_changed_at = now
    fields.update({"status", "status_changed_at"})
    if status == Status.RESOLVED:
        ticket.resolved_at = now
        fields.add("resolved_at")
    elif status == Status.CLOSED:
        ticket.closed_at = now
        fields.add("closed_at")
        if ticket.resolved_at is None:
            ticket.resolved_at = now
            fields.add("resolved_at")
    elif status == Status.OPEN and old in (Status.RESOLVED, Status.CLOSED):
        ticket.resolved_at = None
        ticket.closed_at = None
        fields.update({"resolved_at", "closed_at"})
    if status == Status.WAITING_CUSTOMER:
        ticket.followups_sent = 0
        fields.add("followups_sent")
    audit.record(
        organization=ticket.organization, actor=actor, action="ticket.status", target_type="ticket",
        target_id=ticket.pk, old=old, new=status, reason=reason,
    )
    if status in NOTIFIED_STATUSES and not ticket.imported and not ticket.is_automatic:  # no mail to a robot
        notify_customer(ticket=ticket, kind=NOTIFIED_STATUSES[status], email=email_customer, message=message)
    fields.update(emit(ticket, Change.STATUS, now=now, actor=actor, old=old, new=status))  # domain event
    return old


@transaction.atomic
def change_status(
    *, ticket: Ticket, status: str, actor: Actor, reason: str = "manual", email_customer: bool = True,
    at: datetime | None = None,
) -> Ticket:
    _validate_choice(status, Status, _("Statut"))
    require(actor, "tickets.change_status", ticket.organization)
    ticket = Ticket.objects.select_for_update().select_related("organization", "customer").get(pk=ticket.pk)
    if ticket.status == status:
        return ticket
    now = at or timezone.now()
    fields = {"updated_at"}
    ticket.updated_at = now
    _apply_status(ticket, status, actor=actor.user, now=now, fields=fields, reason=reason,
                  email_customer=email_customer)
    ticket.save(update_fields=sorted(fields))
    return ticket


@transaction.atomic
def assign(*, ticket: Ticket, assignee, actor: Actor) -> Ticket:
    require(actor, "tickets.assign", ticket.organization)
    _check_assignee(ticket.organization, assignee)
    user = actor.user
    old = ticket.assignee_id
    if old == (assignee.pk if assignee else None):
        return ticket
    ticket.assignee = assignee
    ticket.updated_at = timezone.now()
    stamped = emit(ticket, Change.ASSIGNED, now=ticket.updated_at, actor=user, old=old,  # domain event
                   new=assignee.pk if assignee else None)
    ticket.save(update_fields=["assignee", "updated_at", *sorted(stamped)])
    audit.record(
        organization=ticket.organization, actor=user, action="ticket.assigned", target_type="ticket",
        target_id=ticket.pk, old=old, new=assignee.pk if assignee else None,
        new_name=(assignee.get_full_name() or assignee.email) if assignee else "",
    )
    return ticket


@transaction.atomic
def set_priority(*, ticket: Ticket, priority: str, actor: Actor) -> Ticket:
    _validate_choice(priority, Priority, _("Priorité"))
    require(actor, "tickets.change_priority", ticket.organization)
    user = actor.user
    if ticket.priority == priority:
        return ticket
    old = ticket.priority
    ticket.priority = priority
    ticket.updated_at = timezone.now()
    stamped = emit(ticket, Change.PRIORITY, now=ticket.updated_at, actor=user, old=old, new=priority)  # domain event
    ticket.save(update_fields=["priority", "updated_at", *sorted(stamped)])
    ticket.refresh_from_db(fields=["is_urgent"])
    audit.record(
        organization=ticket.organization, actor=user, action="ticket.priority", target_type="ticket",
        target_id=ticket.pk, old=old, new=priority,
    )
    return ticket


def _clean_tag_names(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for raw in names:
        name = " ".join((raw or "").split()).strip().lower()
        if not name:
            continue
        if len(name) > 50:
            raise InvalidInput(_("Un tag ne peut dépasser 50 caractères : %(t)s") % {"t": name[:60]})
        seen.setdefault(name, name)
    return list(seen)


def _set_tags(ticket: Ticket, names: Iterable[str]) -> tuple[list[str], list[str]]:
    wanted = _clean_tag_names(names)
    org_id = ticket.organization_id
    existing = {t.name.lower(): t for t in Tag.objects.filter(organization_id=org_id, name__in=wanted)}
    missing = [n for n in wanted if n not in existing]
    if missing:
        Tag.objects.bulk_create(
            [Tag(organization_id=org_id, name=n) for n in missing], ignore_conflicts=True
        )
        existing = {t.name.lower(): t for t in Tag.objects.filter(organization_id=org_id, name__in=wanted)}
    current = dict(TicketTag.objects.filter(ticket=ticket).values_list("tag__name", "tag_id"))
    to_add = [existing[n] for n in wanted if n not in current]
    to_remove = [tid for name, tid in current.items() if name not in wanted]
    if to_remove:
        TicketTag.objects.filter(ticket=ticket, tag_id__in=to_remove).delete()
    TicketTag.objects.bulk_create(
        [TicketTag(organization_id=org_id, ticket=ticket, tag=t) for t in to_add], ignore_conflicts=True
    )
    return [t.name for t in to_add], [n for n, tid in current.items() if tid in to_remove]


@transaction.atomic
def set_tags(*, ticket: Ticket, names: Iterable[str], actor: Actor) -> Ticket:
    require(actor, "tickets.tag", ticket.organization)
    user = actor.user
    added, removed = _set_tags(ticket, names)
    if added or removed:
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=["updated_at"])
        audit.record(
            organization=ticket.organization, actor=user, action="ticket.tags", target_type="ticket",
            target_id=ticket.pk, added=added, removed=removed,
        )
        # automations: informational domain event (tickets.events), nothing a receiver sets is saved.
        emit(ticket, Change.TAGS, now=ticket.updated_at, actor=user, old=removed, new=added)
    return ticket


# --- the timed lifecycle (Celery beat) ---------------------------------------------------------------


class _Days(Func):
    template = "make_interval(days => %(expressions)s)"
    output_field = DurationField()


def _older_than(field_days: str, now: datetime) -> Q:
    """status_changed_at <= now - <organization's delay in days>."""
    from django.db.models import DateTimeField, ExpressionWrapper, Value

    limit = ExpressionWrapper(Value(now) - _Days(F(f"organization__{field_days}")), output_field=DateTimeField())
    return Q(status_changed_at__lte=limit)


def _system_reply(ticket: Ticket, text: str, now: datetime) -> Message:
    return Message.objects.create(
        organization_id=ticket.organization_id, ticket=ticket, kind=MessageKind.REPLY,
        channel=Channel.EMAIL if ticket.channel == Channel.EMAIL else Channel.MANUAL,
        body_html=body_from(text=text)[0], body_text=text, created_at=now,
    )


def _followup_text(ticket: Ticket, days: int, final: bool) -> str:
    with override(ticket.organization.language):
        first = ticket.customer.first_name or ticket.customer.display_name
        if final:
            return _(
                "Bonjour %(first)s,\n\nN'ayant pas eu de retour de votre part depuis %(days)s jours, "
                "nous considérons que votre demande est résolue et fermons ce ticket (fermé faute de réponse). "
                "Si vous avez encore besoin d'aide, répondez simplement à ce message.\n\nL'équipe support"
            ) % {"first": first, "days": days}
        return _(
            "Bonjour %(first)s,\n\nNous attendons votre retour sur votre demande « %(subject)s » depuis "
            "%(days)s jours. Pourriez-vous nous répondre afin que nous puissions avancer ?\n\nL'équipe support"
        ) % {"first": first, "subject": ticket.subject, "days": days}


def run_lifecycle(*, now: datetime | None = None, batch: int = 500) -> dict[str, int]:
    """Auto-close resolved tickets; follow up and close tickets waiting on the customer.

    Safe to run twice or in two workers at once: every step re-checks the ticket's
    state under a row lock and does nothing if another run got there first.
    """
    now = now or timezone.now()
    done = {"closed_resolved": 0, "followups": 0, "closed_no_reply": 0}
    base = Ticket.objects.select_related("organization", "customer").filter(imported=False)

    for ticket in base.filter(Q(status=Status.RESOLVED) & _older_than("auto_close_resolved_days", now))[:batch]:
        with transaction.atomic():
            t = Ticket.objects.select_for_update(skip_locked=True).filter(
                pk=ticket.pk, status=Status.RESOLVED, status_changed_at=ticket.status_changed_at
            ).select_related("organization", "customer").first()
            if t is None:
                continue
            fields = {"updated_at"}
            t.updated_at = now
            _apply_status(t, Status.CLOSED, actor=None, now=now, fields=fields, reason="auto_close_resolved")
            t.save(update_fields=sorted(fields))
            done["closed_resolved"] += 1

    waiting = base.filter(status=Status.WAITING_CUSTOMER)
    steps = (
        ("close_waiting_days", None, True),
        ("second_followup_days", 1, False),
        ("first_followup_days", 0, False),
    )
    handled: set[int] = set()
    for field, followups, final in steps:
        qs = waiting.filter(_older_than(field, now))
        if followups is not None:
            qs = qs.filter(followups_sent=followups)
        for ticket in qs[:batch]:
            if ticket.pk in handled:
                continue
            with transaction.atomic():
                t = Ticket.objects.select_for_update(skip_locked=True).filter(
                    pk=ticket.pk, status=Status.WAITING_CUSTOMER, followups_sent=ticket.followups_sent,
                    status_changed_at=ticket.status_changed_at,
                ).select_related("organization", "customer").first()
                if t is None:
                    continue
                handled.add(t.pk)
                days = getattr(t.organization, field)
                message = _system_reply(t, _followup_text(t, days, final), now)
                fields = {"updated_at"}
                t.updated_at = now
                if final:
                    _apply_status(
                        t, Status.CLOSED, actor=None, now=now, fields=fields, reason="no_reply", message=message
                    )
                    done["closed_no_reply"] += 1
                else:
                    t.followups_sent = followups + 1
                    fields.add("followups_sent")
                    notify_customer(ticket=t, kind=NotificationKind.WAITING_CUSTOMER, message=message)
                    done["followups"] += 1
                t.save(update_fields=sorted(fields))
                refresh_search_document([t.pk])
                audit.record(
                    organization=t.organization, actor=None, action="ticket.followup" if not final else
                    "ticket.closed_no_reply", target_type="ticket", target_id=t.pk, days=days,
                )
    return done


# --- shared views and reply templates -----------------------------------------------------------------

VIEW_FILTER_KEYS = ("status", "priority", "assignee", "tag", "customer", "q", "sort", "sla")


@transaction.atomic
def save_view(*, organization: Organization, name: str, filters: dict, actor: Actor) -> SavedView:
    require(actor, "views.manage", organization)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Donnez un nom à la vue."))
    clean = {k: v for k, v in filters.items() if k in VIEW_FILTER_KEYS and v not in ("", None)}
    if SavedView.objects.filter(organization=organization, name__iexact=name).exists():
        raise InvalidInput(_("Une vue porte déjà ce nom."))
    position = SavedView.objects.filter(organization=organization).count()
    view = SavedView.objects.create(
        organization=organization, name=name[:80], filters=clean, created_by=actor.user, position=position
    )
    audit.record(organization=organization, actor=actor.user, action="view.created", target_type="view",
                 target_id=view.pk, name=name)
    return view


@transaction.atomic
def delete_view(*, view: SavedView, actor: Actor) -> None:
    require(actor, "views.manage", view.organization)
    audit.record(organization=view.organization, actor=actor.user, action="view.deleted", target_type="view",
                 target_id=view.pk, name=view.name)
    view.delete()


@transaction.atomic
def save_reply_template(
    *, organization: Organization, name: str, body: str, actor: Actor, template: ReplyTemplate | None = None
) -> ReplyTemplate:
    require(actor, "reply_templates.manage", organization)
    name, body = (name or "").strip(), (body or "").strip()
    if not name or not body:
        raise InvalidInput(_("Le nom et le texte du modèle sont obligatoires."))
    clash = ReplyTemplate.objects.filter(organization=organization, name__iexact=name)
    if template is not None:
        clash = clash.exclude(pk=template.pk)
    if clash.exists():
        raise InvalidInput(_("Un modèle porte déjà ce nom."))
    if template is None:
        template = ReplyTemplate(organization=organization, created_by=actor.user)
    template.name, template.body = name[:120], body
    template.save()
    audit.record(organization=organization, actor=actor.user, action="template.saved", target_type="template",
                 target_id=template.pk, name=name)
    return template


@transaction.atomic
def delete_reply_template(*, template: ReplyTemplate, actor: Actor) -> None:
    require(actor, "reply_templates.manage", template.organization)
    audit.record(organization=template.organization, actor=actor.user, action="template.deleted",
                 target_type="template", target_id=template.pk, name=template.name)
    template.delete()


def lifecycle_delays(organization: Organization) -> dict[str, timedelta]:
    return {
        "auto_close_resolved": timedelta(days=organization.auto_close_resolved_days),
        "first_followup": timedelta(days=organization.first_followup_days),
        "second_followup": timedelta(days=organization.second_followup_days),
        "close_waiting": timedelta(days=organization.close_waiting_days),
    }
