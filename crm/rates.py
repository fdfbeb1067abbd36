"""Agents' hourly cost (001 §2): Admins set it from a date, Managers read it.

Contract: a rate is never edited in place. ``set_rate`` adds (or, for the same day, replaces) the row
effective from that day; ``rate_on`` answers the rate in force on a day. Time entries (``tickets.costs``)
copy the rate when they are costed, so no change here alters time already logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Membership, Organization, user_display_name
from lumiodesk.permissions import Actor, require

from .models import HourlyRate

CENT = Decimal("0.01")
MAX_RATE = Decimal("10000")


def parse_amount(value, *, maximum: Decimal = MAX_RATE) -> Decimal:
    """A euro amount typed by a person ("45", "45,50", "45.5"): a Decimal to the cent, or InvalidInput."""
    text = str(value if value is not None else "").strip().replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(_("Montant invalide : %(v)s") % {"v": value or "—"}) from None
    if not amount.is_finite() or amount < 0 or amount > maximum:
        raise InvalidInput(_("Montant invalide : %(v)s") % {"v": value})
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cost_of(minutes: int, rate: Decimal) -> Decimal:
    """``minutes`` at ``rate`` EUR/h, to the cent (half up)."""
    return (Decimal(minutes) * rate / Decimal(60)).quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def set_rate(*, actor: Actor, organization: Organization, user, amount, effective_from: date) -> HourlyRate:
    require(actor, "rates.manage", organization)
    if not Membership.objects.filter(organization=organization, user=user).exists():
        raise InvalidInput(_("Ce membre n'appartient pas à l'organisation."))
    value = parse_amount(amount)
    previous = rate_on(organization.pk, user.pk, effective_from)
    rate, _created = HourlyRate.objects.update_or_create(
        organization=organization, user=user, effective_from=effective_from,
        defaults={"amount": value, "created_by": getattr(actor, "user", None)},
    )
    audit.record(organization=organization, actor=actor.user, action="rate.set", target_type="user",
                 target_id=user.pk, member=user_display_name(user), effective_from=str(effective_from),
                 before={"amount": str(previous) if previous is not None else ""}, after={"amount": str(value)})
    return rate


def rate_on(organization_id: int, user_id: int, day: date) -> Decimal | None:
    """The user's hourly cost in force on ``day`` (None: none set yet): one query."""
    return (HourlyRate.objects.filter(organization_id=organization_id, user_id=user_id, effective_from__lte=day)
            .order_by("-effective_from").values_list("amount", flat=True).first())


def history(organization: Organization) -> list[HourlyRate]:
    """Every rate of the organization, per agent, newest first."""
    return list(HourlyRate.objects.filter(organization=organization).select_related("user")
                .order_by("user_id", "-effective_from"))


def in_force(rates: Iterable[HourlyRate], day: date) -> dict[int, Decimal]:
    """Each agent's hourly cost in force on ``day``, from their rates (``history``: no query): the newest rate
    effective on or before ``day``; an agent whose rates all start later has none."""
    current: dict[int, tuple[date, Decimal]] = {}
    for r in rates:
        if r.effective_from <= day and (r.user_id not in current or r.effective_from > current[r.user_id][0]):
            current[r.user_id] = (r.effective_from, r.amount)
    return {user_id: amount for user_id, (_day, amount) in current.items()}
