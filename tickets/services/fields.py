"""Assignment, priority and tags of a ticket."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import user_display_name
from lumiodesk.permissions import Actor, require

from ..models import Priority, Tag, Ticket, TicketTag
from ..pipeline import ChangeKind, TicketChange
from ..pipeline import run as run_pipeline
from .checks import check_assignee, validate_choice


@transaction.atomic
def assign(*, ticket: Ticket, assignee, actor: Actor, reason: str = "") -> Ticket:
    """``reason``: why the system assigned it, kept on the audit row the ticket's history shows
    (``"availability"``: assignment by availability, ``tickets.assignment``)."""
    require(actor, "tickets.assign", ticket.organization)
    check_assignee(ticket.organization, assignee)
    user = actor.user
    old = ticket.assignee_id
    if old == (assignee.pk if assignee else None):
        return ticket
    ticket.assignee = assignee
    ticket.updated_at = timezone.now()
    stamped = run_pipeline(TicketChange(ticket, ChangeKind.ASSIGNED, ticket.updated_at, actor=user, old=old,
                                        new=assignee.pk if assignee else None))
    ticket.save(update_fields=["assignee", "updated_at", *sorted(stamped)])
    audit.record(
        organization=ticket.organization, actor=user, action="ticket.assigned", target_type="ticket",
        target_id=ticket.pk, old=old, new=assignee.pk if assignee else None,
        new_name=user_display_name(assignee) if assignee else "",
        **({"reason": reason} if reason else {}),
    )
    return ticket


@transaction.atomic
def set_priority(*, ticket: Ticket, priority: str, actor: Actor) -> Ticket:
    validate_choice(priority, Priority, _("Priorité"))
    require(actor, "tickets.change_priority", ticket.organization)
    user = actor.user
    if ticket.priority == priority:
        return ticket
    old = ticket.priority
    ticket.priority = priority
    ticket.updated_at = timezone.now()
    stamped = run_pipeline(TicketChange(ticket, ChangeKind.PRIORITY, ticket.updated_at, actor=user, old=old,
                                        new=priority))
    ticket.save(update_fields=["priority", "updated_at", *sorted(stamped)])
    ticket.refresh_from_db(fields=["is_urgent"])
    audit.record(
        organization=ticket.organization, actor=user, action="ticket.priority", target_type="ticket",
        target_id=ticket.pk, old=old, new=priority,
    )
    return ticket


def clean_tag_names(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for raw in names:
        name = " ".join((raw or "").split()).strip().lower()
        if not name:
            continue
        if len(name) > 50:
            raise InvalidInput(_("Un tag ne peut dépasser 50 caractères : %(t)s") % {"t": name[:60]})
        seen.setdefault(name, name)
    return list(seen)


def write_tags(ticket: Ticket, names: Iterable[str]) -> tuple[list[str], list[str]]:
    wanted = clean_tag_names(names)
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
    added, removed = write_tags(ticket, names)
    if added or removed:
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=["updated_at"])
        audit.record(
            organization=ticket.organization, actor=user, action="ticket.tags", target_type="ticket",
            target_id=ticket.pk, added=added, removed=removed,
        )
        # Once the tags are written (rules on "updated" react to them); what a step sets is not saved.
        run_pipeline(TicketChange(ticket, ChangeKind.TAGS, ticket.updated_at, actor=user, old=removed, new=added))
    return ticket
