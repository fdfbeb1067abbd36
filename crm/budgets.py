"""Budgets of companies and customers (001 "BUDGET"): the forecast cost of their support over a month, a
quarter or a year. What their tickets actually cost is measured above, in ``tickets.costs`` (time entries
belong to tickets); this module keeps the budgets themselves and the period arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from .models import Budget, BudgetPeriod, Company, Customer
from .rates import parse_amount

MAX_BUDGET = Decimal("100000000")


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The period of kind ``period`` containing ``day``: (first day, first day after)."""
    if period == BudgetPeriod.MONTH:
        start = day.replace(day=1)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    elif period == BudgetPeriod.QUARTER:
        month = (day.month - 1) // 3 * 3 + 1
        start = date(day.year, month, 1)
        end = date(day.year + (month == 10), (month + 2) % 12 + 1, 1)
    elif period == BudgetPeriod.YEAR:
        start, end = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    else:
        raise InvalidInput(_("Période inconnue : %(p)s") % {"p": period})
    return start, end


@dataclass(frozen=True)
class Pace:
    """A budget's consumption on ``today``: actual cost, the forecast at the end of the period at the pace so
    far, and the percentages the record and the alerts show."""

    amount: Decimal
    actual: Decimal
    forecast: Decimal
    elapsed_days: int
    total_days: int

    @property
    def percent(self) -> int:
        return int(self.actual * 100 / self.amount) if self.amount else 0

    @property
    def forecast_percent(self) -> int:
        return int(self.forecast * 100 / self.amount) if self.amount else 0

    @property
    def state(self) -> str:
        """"over" (≥ 100 %), "warning" (≥ 80 % or the pace predicts an overrun), "ok"."""
        if self.percent >= 100:
            return "over"
        if self.percent >= 80 or self.forecast > self.amount:
            return "warning"
        return "ok"


def pace(budget: Budget, actual: Decimal, today: date) -> Pace:
    total = (budget.end - budget.start).days
    elapsed = min(max((today - budget.start).days + 1, 0), total)
    if elapsed <= 0 or elapsed >= total:
        forecast = actual
    else:
        forecast = (actual * total / elapsed).quantize(Decimal("0.01"))
    return Pace(amount=budget.amount, actual=actual, forecast=forecast, elapsed_days=elapsed, total_days=total)


def _owner(organization: Organization, company: Company | None, customer: Customer | None) -> None:
    if (company is None) == (customer is None):
        raise InvalidInput(_("Un budget porte sur une entreprise ou sur un client."))
    owner = company or customer
    if owner.organization_id != organization.pk:
        raise InvalidInput(_("Entreprise ou client inconnu."))


@transaction.atomic
def save_budget(*, actor: Actor, organization: Organization, period: str, day: date, amount,
                company: Company | None = None, customer: Customer | None = None) -> Budget:
    """Create, or change the amount of, the budget of ``company`` or ``customer`` for the period of
    ``period`` containing ``day``."""
    require(actor, "budgets.manage", organization)
    _owner(organization, company, customer)
    start, end = period_bounds(period, day)
    value = parse_amount(amount, maximum=MAX_BUDGET)
    if value <= 0:
        raise InvalidInput(_("Le montant d'un budget doit être positif."))
    budget = Budget.objects.filter(organization=organization, company=company, customer=customer, period=period,
                                   start=start).first()
    before = str(budget.amount) if budget else ""
    try:
        with transaction.atomic():
            if budget is None:
                budget = Budget.objects.create(organization=organization, company=company, customer=customer,
                                               period=period, start=start, end=end, amount=value)
            else:
                budget.amount = value
                budget.save(update_fields=["amount"])
    except IntegrityError:
        raise InvalidInput(_("Ce budget vient d'être créé par quelqu'un d'autre : rechargez la page.")) from None
    audit.record(organization=organization, actor=actor.user, action="budget.saved", target_type="budget",
                 target_id=budget.pk, owner=str(company or customer), period=period, start=str(start),
                 before={"amount": before}, after={"amount": str(value)})
    return budget


@transaction.atomic
def delete_budget(*, actor: Actor, budget: Budget) -> None:
    require(actor, "budgets.manage", budget.organization)
    audit.record(organization=budget.organization, actor=actor.user, action="budget.deleted", target_type="budget",
                 target_id=budget.pk, period=budget.period, start=str(budget.start),
                 before={"amount": str(budget.amount)}, after={})
    budget.delete()
