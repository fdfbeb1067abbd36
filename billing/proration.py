"""Money arithmetic of billing, pure (no database): months in UTC, proration by days, rounding.

A mid-month plan change (section 9) costs the difference of the two monthly prices for the days left in
the calendar month, the day of the change included: ``(new - old) × days_left / days_in_month``, rounded
to the cent, half up. A change on the 1st is the whole month's difference, on the last day one day's
(1/28 … 1/31 of it); a downgrade is a credit (negative). The trial costs nothing (price 0).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of ``day``'s calendar month, in UTC."""
    start = month_start(day)
    return (datetime(start.year, start.month, 1, tzinfo=UTC),
            datetime(next_month(start).year, next_month(start).month, 1, tzinfo=UTC))


def days_left(at: datetime) -> tuple[int, int]:
    """(days left in the UTC month, the day of ``at`` included; days in that month)."""
    day = utc_day(at)
    total = days_in_month(day)
    return total - day.day + 1, total


def prorate(old_price: Decimal, new_price: Decimal, at: datetime) -> tuple[Decimal, int, int]:
    """(amount, days, days_in_month) of a change from ``old_price`` to ``new_price`` per month at ``at``."""
    days, total = days_left(at)
    return money((Decimal(new_price) - Decimal(old_price)) * days / total), days, total


def extra_agents_cost(seat_days: list[tuple[int, int, Decimal]], total_days: int) -> tuple[Decimal, int]:
    """(amount, agent-days) for days given as (seats, included, price per extra agent per month)."""
    agent_days = 0
    amount = Decimal(0)
    for seats, included, price in seat_days:
        extra = max(seats - included, 0)
        agent_days += extra
        amount += Decimal(extra) * Decimal(price) / total_days
    return money(amount), agent_days
