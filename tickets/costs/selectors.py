"""Reads on the cost of support: a ticket's time, a customer's or company's cost to date, budget status,
the dashboard's figures. Each function is a fixed number of queries, whatever the number of rows.

Totals, budgets and the dashboard read the monthly rollup (``TimeCostMonth``, kept by ``rollup``): budget
periods are whole months, and so are the dashboard's. A ticket's own entries and the CSV export read
``TimeEntry``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from crm.budgets import Pace, pace
from crm.models import Budget, Company, Customer

from ..models import Ticket
from .models import TicketCostMonth, TimeCostMonth, TimeEntry

ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=12, decimal_places=2))


def _totals(qs) -> dict:
    return qs.aggregate(minutes=Coalesce(Sum("minutes"), 0), cost=Coalesce(Sum("cost"), ZERO), entries=Count("id"))


def entries_of_ticket(ticket: Ticket) -> list[TimeEntry]:
    return list(TimeEntry.objects.filter(ticket=ticket).select_related("user").order_by("-date", "-id"))


def euros(cents: int | None) -> Decimal:
    """The rollups keep cents (integers sum faster): back to euros."""
    return (Decimal(cents or 0) / 100).quantize(Decimal("0.01"))


def _rollup_totals(qs) -> dict:
    totals = qs.aggregate(minutes=Coalesce(Sum("minutes"), 0), cents=Coalesce(Sum("cost_cents"), 0),
                          entries=Coalesce(Sum("entries"), 0))
    return {"minutes": totals["minutes"], "cost": euros(totals["cents"]), "entries": totals["entries"]}


def totals_of_customer(customer: Customer) -> dict:
    return _rollup_totals(TimeCostMonth.objects.filter(customer=customer))


def totals_of_company(company: Company) -> dict:
    return _rollup_totals(TimeCostMonth.objects.filter(organization_id=company.organization_id,
                                                       customer__company=company))


def budget_filter(budget: Budget) -> Q:
    """The rollup rows a budget counts: its owner's, in its months."""
    owner = Q(customer_id=budget.customer_id) if budget.customer_id else Q(customer__company_id=budget.company_id)
    return owner & Q(month__gte=budget.start, month__lt=budget.end)


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    pace: Pace


def budget_statuses(budgets: list[Budget], today: date) -> list[BudgetStatus]:
    """Each budget with its actual cost and pace: one query for all (a conditional sum per budget)."""
    if not budgets:
        return []
    scope = Q()
    for b in budgets:
        scope |= budget_filter(b)
    sums = TimeCostMonth.objects.filter(scope, organization_id=budgets[0].organization_id).aggregate(**{
        f"b{b.pk}": Sum("cost_cents", filter=budget_filter(b)) for b in budgets
    })
    return [BudgetStatus(b, pace(b, euros(sums[f"b{b.pk}"]), today)) for b in budgets]


SEVERITY = {"over": 0, "warning": 1, "ok": 2}


def current_budget_statuses(organization_id: int, today: date, *, limit: int = 20) -> tuple[list[BudgetStatus], int]:
    """The budgets whose period contains ``today``, the most at risk first (over, then warning, then ok; by
    forecast), at most ``limit``, and how many there are: one query, whatever the number of budgets (each
    budget's actual cost is a correlated sum over the monthly rollup of its owner and months)."""
    spent = (TimeCostMonth.objects
             .filter(Q(customer_id=OuterRef("customer_id")) | Q(customer__company_id=OuterRef("company_id")),
                     organization_id=OuterRef("organization_id"), month__gte=OuterRef("start"),
                     month__lt=OuterRef("end"))
             .order_by().values("organization_id").annotate(cents=Sum("cost_cents")).values("cents"))
    budgets = list(Budget.objects.filter(organization_id=organization_id, start__lte=today, end__gt=today)
                   .select_related("company", "customer").annotate(spent_cents=Subquery(spent)))
    statuses = [BudgetStatus(b, pace(b, euros(b.spent_cents), today)) for b in budgets]
    statuses.sort(key=lambda s: (SEVERITY[s.pace.state], -s.pace.forecast_percent, -s.pace.percent, s.budget.pk))
    return statuses[:limit], len(statuses)


def budgets_covering(*, organization_id: int, customer_id: int | None, company_id: int | None,
                     day: date) -> list[Budget]:
    """The budgets of this customer and of its company whose period contains ``day``."""
    owners = Q(customer_id=customer_id)
    if company_id:
        owners |= Q(company_id=company_id)
    return list(Budget.objects.filter(owners, organization_id=organization_id, start__lte=day, end__gt=day)
                .select_related("company", "customer").order_by("period", "start"))


def budgets_of(*, customer: Customer | None = None, company: Company | None = None) -> list[Budget]:
    qs = Budget.objects.filter(customer=customer) if customer is not None else Budget.objects.filter(company=company)
    return list(qs.order_by("-start", "period")[:12])


def tickets_of_customer(customer: Customer, *, limit: int = 50) -> list[Ticket]:
    """The customer's tickets, newest first, with satisfaction and time totals: one query."""
    return list(
        Ticket.objects.filter(organization_id=customer.organization_id, customer=customer)
        .select_related("satisfaction", "assignee")
        .annotate(minutes=Coalesce(Sum("time_entries__minutes", filter=Q(time_entries__running=False)), 0),
                  cost=Coalesce(Sum("time_entries__cost", filter=Q(time_entries__running=False)), ZERO))
        .order_by("-created_at")[:limit]
    )


def tickets_of_company(company: Company, *, limit: int = 50) -> list[Ticket]:
    return list(
        Ticket.objects.filter(organization_id=company.organization_id, customer__company=company)
        .select_related("satisfaction", "assignee", "customer")
        .annotate(minutes=Coalesce(Sum("time_entries__minutes", filter=Q(time_entries__running=False)), 0),
                  cost=Coalesce(Sum("time_entries__cost", filter=Q(time_entries__running=False)), ZERO))
        .order_by("-created_at")[:limit]
    )


# --- the dashboard ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    company_id: int | None = None
    customer_id: int | None = None
    user_id: int | None = None


def _entries(organization_id: int, f: Filters):
    qs = TimeEntry.objects.filter(organization_id=organization_id, date__gte=f.start, date__lte=f.end,
                                  running=False)
    if f.user_id:
        qs = qs.filter(user_id=f.user_id)
    if f.customer_id:
        qs = qs.filter(ticket__customer_id=f.customer_id)
    if f.company_id:
        qs = qs.filter(ticket__customer__company_id=f.company_id)
    return qs


def _months(organization_id: int, f: Filters, *, per_agent: bool = True):
    """The rollup rows of the filters' months (from the month of ``start`` to the month of ``end``): per ticket,
    agent and month, or (``per_agent=False``, no agent chosen) per ticket and month, half the rows."""
    model = TimeCostMonth if per_agent or f.user_id else TicketCostMonth
    qs = model.objects.filter(organization_id=organization_id, month__gte=f.start.replace(day=1),
                                      month__lte=f.end.replace(day=1))
    if f.user_id:
        qs = qs.filter(user_id=f.user_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.company_id:
        qs = qs.filter(customer__company_id=f.company_id)
    return qs


def _grouped(qs, key: str, limit: int | None = None) -> list[dict]:
    rows = qs.values(key).annotate(minutes=Sum("minutes"), cents=Sum("cost_cents")).order_by("-cents", key)
    rows = list(rows[:limit] if limit else rows)
    for r in rows:
        r["cost"] = euros(r.pop("cents"))
    return rows


def _named(rows: list[dict], key: str, model, fields: tuple[str, ...], prefix: str) -> list[dict]:
    """Add the names of the grouped objects (one query for the few rows shown)."""
    ids = [r[key] for r in rows if r[key] is not None]
    found = {o["pk"]: o for o in model.objects.filter(pk__in=ids).values("pk", *fields)} if ids else {}
    for r in rows:
        for field in fields:
            r[f"{prefix}{field}"] = found.get(r[key], {}).get(field, "")
    return rows


def dashboard(organization_id: int, f: Filters, *, top: int = 20) -> dict:
    """The dashboard's tables: totals, per month, agent, company, customer and the costliest tickets.

    Totals, months and agents come from one pass grouped by (month, agent): a few hundred groups."""
    qs = _months(organization_id, f)
    tickets = _months(organization_id, f, per_agent=False)
    cells = list(qs.values("month", "user_id").annotate(minutes=Sum("minutes"), cents=Sum("cost_cents"),
                                                           entries=Sum("entries")))
    for c in cells:
        c["cost"] = euros(c.pop("cents"))
    totals = {"minutes": 0, "cost": Decimal("0.00"), "entries": 0}
    months: dict = {}
    agents: dict = {}
    for c in cells:
        for key in ("minutes", "cost", "entries"):
            totals[key] += c[key]
        for bucket, key in ((months, "month"), (agents, "user_id")):
            row = bucket.setdefault(c[key], {key: c[key], "minutes": 0, "cost": Decimal("0.00")})
            row["minutes"] += c["minutes"]
            row["cost"] += c["cost"]
    per_agent = sorted(agents.values(), key=lambda r: (-r["cost"], r["user_id"]))
    return {
        "totals": totals,
        "per_month": sorted(months.values(), key=lambda r: r["month"]),
        "per_agent": _named(per_agent, "user_id", get_user_model(), ("first_name", "last_name", "email"), "user__"),
        "per_company": _named(_grouped(tickets, "customer__company_id", limit=top), "customer__company_id", Company,
                              ("name",), "company__"),
        "per_customer": _named(_grouped(tickets, "customer_id", limit=top), "customer_id", Customer,
                               ("first_name", "last_name", "email"), "customer__"),
        "per_ticket": _named(_grouped(tickets, "ticket_id", limit=top), "ticket_id", Ticket, ("number", "subject"),
                             "ticket__"),
    }


def csv_rows(organization_id: int, f: Filters):
    """Every entry of the filters, for the CSV export (streamed, by chunks)."""
    return (_entries(organization_id, f).order_by("date", "id")
            .values_list("date", "ticket__number", "ticket__subject", "ticket__customer__email",
                         "ticket__customer__company__name", "user__email", "minutes", "rate", "cost", "note")
            .iterator(chunk_size=2000))


def budgets_in(organization_id: int, f: Filters, today: date) -> list[BudgetStatus]:
    """Budgets whose period meets the filters' dates (at most 30, the chart's bars)."""
    qs = Budget.objects.filter(organization_id=organization_id, start__lte=f.end, end__gt=f.start)
    if f.company_id:
        qs = qs.filter(company_id=f.company_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    return budget_statuses(list(qs.select_related("company", "customer").order_by("start", "id")[:30]), today)


# --- the REST API (tickets.api) ---------------------------------------------------------------------------


def api_entries(organization_id: int, *, ticket_number: int | None = None, user_id: int | None = None,
                start: date | None = None, end: date | None = None):
    """An organization's time entries for the API's list, with the few columns its rows show (one query a page:
    the ticket's number and the agent are joined, not loaded row by row)."""
    qs = TimeEntry.objects.filter(organization_id=organization_id)
    if ticket_number is not None:
        qs = qs.filter(ticket__organization_id=organization_id, ticket__number=ticket_number)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if start is not None:
        qs = qs.filter(date__gte=start)
    if end is not None:
        qs = qs.filter(date__lte=end)
    return qs.select_related("ticket", "user").only(
        "id", "date", "minutes", "note", "running", "rate", "cost", "created_at", "updated_at", "ticket__number",
        "user__id", "user__email", "user__first_name", "user__last_name",
    )


def ticket_time_totals(ticket: Ticket) -> dict:
    """A ticket's stopped time: minutes, cost (euros) and number of entries, in one query."""
    return _totals(TimeEntry.objects.filter(ticket=ticket, running=False))
