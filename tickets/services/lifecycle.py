"""The timed lifecycle, run by Celery beat: auto-close of resolved tickets, follow-ups, close without reply."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Func, Q, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk import audit
from lumiodesk.html_sanitizer import body_from
from lumiodesk.models import Organization

from .. import notifications
from ..models import Channel, CustomerNotificationKind, Message, MessageKind, Status, Ticket
from .search_document import refresh_search_document
from .status import apply_status


class _Days(Func):
    template = "make_interval(days => %(expressions)s)"
    output_field = DurationField()


def _older_than(field_days: str, now: datetime) -> Q:
    """status_changed_at <= now - <organization's delay in days>."""
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
            apply_status(t, Status.CLOSED, actor=None, now=now, fields=fields, reason="auto_close_resolved")
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
                    apply_status(
                        t, Status.CLOSED, actor=None, now=now, fields=fields, reason="no_reply", message=message
                    )
                    done["closed_no_reply"] += 1
                else:
                    t.followups_sent = followups + 1
                    fields.add("followups_sent")
                    notifications.notify_customer(ticket=t, kind=CustomerNotificationKind.WAITING_CUSTOMER,
                                                  message=message)
                    done["followups"] += 1
                t.save(update_fields=sorted(fields))
                refresh_search_document([t.pk])
                audit.record(
                    organization=t.organization, actor=None, action="ticket.followup" if not final else
                    "ticket.closed_no_reply", target_type="ticket", target_id=t.pk, days=days,
                )
    return done


def lifecycle_delays(organization: Organization) -> dict[str, timedelta]:
    return {
        "auto_close_resolved": timedelta(days=organization.auto_close_resolved_days),
        "first_followup": timedelta(days=organization.first_followup_days),
        "second_followup": timedelta(days=organization.second_followup_days),
        "close_waiting": timedelta(days=organization.close_waiting_days),
    }
