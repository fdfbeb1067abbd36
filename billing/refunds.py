"""Commercial refunds asked on a ticket (section 15): requested by an agent, approved by a person.

Rules (the only place they live):
- a member who works tickets (``refunds.request``) asks, with an amount in EUR and a reason;
- under 100 EUR a Manager or an Admin approves (``refunds.approve``), from 100 EUR only an Admin
  (``refunds.approve_large``); nobody decides on their own request;
- never by a rule: both services refuse the system actor, and the rule engine has no such action;
- every request and decision is written in the audit log against the ticket (``target_type="ticket"``), which
  the ticket page shows in its refunds block.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput, NotPermitted, TransitionNotAllowed
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, MemberActor, require

from .models import RefundRequest, RefundStatus
from .proration import money

LARGE = Decimal("100")  # from this amount, only an Admin approves


def _member(actor: Actor | None) -> MemberActor:
    if not isinstance(actor, MemberActor):
        raise NotPermitted(_("Un remboursement est demandé et validé par une personne, jamais par une règle."))
    return actor


def parse_amount(raw) -> Decimal:
    try:
        amount = money(Decimal(str(raw).replace(",", ".").strip()))
    except (InvalidOperation, ValueError):
        raise InvalidInput(_("Montant invalide : indiquez un nombre d'euros, par exemple 45 ou 45,50.")) from None
    if amount <= 0 or amount > Decimal("100000"):
        raise InvalidInput(_("Le montant doit être compris entre 0,01 et 100 000 EUR."))
    return amount


@transaction.atomic
def request_refund(*, actor: Actor, ticket, amount, reason: str, now: datetime | None = None) -> RefundRequest:
    actor = _member(actor)
    require(actor, "refunds.request", ticket.organization)
    amount = parse_amount(amount)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Indiquez le motif du remboursement."))
    now = now or timezone.now()
    refund = RefundRequest.objects.create(organization=ticket.organization, ticket=ticket, amount=amount,
                                          reason=reason[:2000], requested_by=actor.user, requested_at=now)
    audit.record(organization=ticket.organization, actor=actor.user, action="billing.refund.requested",
                 target_type="ticket", target_id=ticket.pk, refund=refund.pk, amount=str(amount), reason=reason[:300])
    return refund


def may_decide(actor: Actor | None, refund: RefundRequest) -> bool:
    if not isinstance(actor, MemberActor) or actor.user.pk == refund.requested_by_id:
        return False
    return actor.can("refunds.approve_large" if refund.amount >= LARGE else "refunds.approve")


@transaction.atomic
def decide_refund(*, actor: Actor, refund: RefundRequest, approve: bool, note: str = "",
                  now: datetime | None = None) -> RefundRequest:
    actor = _member(actor)
    require(actor, "refunds.approve", refund.organization)
    refund = RefundRequest.objects.select_for_update().select_related("organization").get(pk=refund.pk)
    if refund.amount >= LARGE:
        require(actor, "refunds.approve_large", refund.organization)
    if refund.requested_by_id == actor.user.pk:
        raise NotPermitted(_("Vous ne pouvez pas valider votre propre demande de remboursement."))
    if refund.status != RefundStatus.PENDING:
        raise TransitionNotAllowed(_("Cette demande a déjà été traitée."))
    refund.status = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
    refund.decided_by, refund.decided_at = actor.user, now or timezone.now()
    refund.decision_note = (note or "").strip()[:300]
    refund.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit.record(organization=refund.organization, actor=actor.user,
                 action=f"billing.refund.{refund.status}", target_type="ticket", target_id=refund.ticket_id,
                 refund=refund.pk, amount=str(refund.amount), note=refund.decision_note)
    return refund


def pending_for(organization: Organization) -> QuerySet[RefundRequest]:
    return (RefundRequest.objects.filter(organization=organization, status=RefundStatus.PENDING)
            .select_related("ticket", "requested_by").order_by("-requested_at", "-pk"))


def of_ticket(ticket) -> list[RefundRequest]:
    return list(RefundRequest.objects.filter(organization_id=ticket.organization_id, ticket=ticket)
                .select_related("requested_by", "decided_by").order_by("-requested_at", "-pk"))
