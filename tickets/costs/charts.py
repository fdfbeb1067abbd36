"""Server-side SVG bar charts for the cost dashboard (no script, no CDN): each chart is a list of bars
computed here and drawn by the template; the page shows the same figures as a table beside it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

BAR_WIDTH = 97.0  # percent of the chart's width (the budget's mark stays inside)


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    width: float  # 0..100, relative to the chart's largest value
    budget_width: float | None = None  # the budget's mark (budget vs actual), same scale
    state: str = "ok"
    y: int = 0


def budget_bars(statuses) -> list[Bar]:
    top = max([max(s.pace.amount, s.pace.actual) for s in statuses] or [Decimal(1)]) or Decimal(1)
    bars = []
    for i, s in enumerate(statuses):
        owner = s.budget.company.name if s.budget.company_id else s.budget.customer.display_name
        bars.append(Bar(label=f"{owner} · {s.budget.get_period_display()} {s.budget.start:%m/%Y}",
                        value=s.pace.actual, width=float(s.pace.actual / top) * BAR_WIDTH,
                        budget_width=float(s.pace.amount / top) * BAR_WIDTH, state=s.pace.state, y=i * 42))
    return bars


def month_bars(rows: list[dict]) -> list[Bar]:
    top = max([r["cost"] for r in rows] or [Decimal(1)]) or Decimal(1)
    return [Bar(label=f"{r['month']:%m/%Y}", value=r["cost"], width=float(r["cost"] / top) * 80, y=i * 26)
            for i, r in enumerate(rows)]
