"""Proration of plan changes (section 9): the table of cases, in UTC days, to the cent."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from billing.proration import extra_agents_cost, prorate

STARTER, BUSINESS, SCALE = Decimal(29), Decimal(89), Decimal(249)
PARIS_WINTER = timezone(timedelta(hours=1))

# (case, old price, new price, instant of the change, days left, days in month, amount)
TABLE = [
    ("upgrade on the 1st: the whole month's difference", STARTER, BUSINESS, datetime(2026, 11, 1, tzinfo=UTC),
     30, 30, "60.00"),
    ("upgrade on the last day of a 31-day month: one day", STARTER, BUSINESS,
     datetime(2026, 12, 31, 23, 59, tzinfo=UTC), 1, 31, "1.94"),
    ("downgrade mid-month: a credit", BUSINESS, STARTER, datetime(2026, 11, 16, 9, tzinfo=UTC), 15, 30, "-30.00"),
    ("February (28 days), on the 15th", STARTER, BUSINESS, datetime(2026, 2, 15, tzinfo=UTC), 14, 28, "30.00"),
    ("leap-year February (29 days), on the 15th", STARTER, BUSINESS, datetime(2028, 2, 15, tzinfo=UTC), 15, 29,
     "31.03"),
    ("leap day itself", STARTER, BUSINESS, datetime(2028, 2, 29, 12, tzinfo=UTC), 1, 29, "2.07"),
    ("from the trial (nothing paid) to Scale on the 12th", Decimal(0), SCALE, datetime(2026, 11, 12, tzinfo=UTC),
     19, 30, "157.70"),
    ("00:30 in Paris on 1 December is still 30 November in UTC", STARTER, BUSINESS,
     datetime(2026, 12, 1, 0, 30, tzinfo=PARIS_WINTER), 1, 30, "2.00"),
]


@pytest.mark.parametrize("case, old, new, at, days, total, amount", TABLE, ids=[row[0] for row in TABLE])
def test_proration_table(case, old, new, at, days, total, amount):
    assert prorate(old, new, at) == (Decimal(amount), days, total)


def test_two_changes_in_one_month_are_two_prorations():
    first = prorate(STARTER, BUSINESS, datetime(2026, 11, 10, tzinfo=UTC))  # 21 days of +60
    second = prorate(BUSINESS, SCALE, datetime(2026, 11, 20, tzinfo=UTC))  # 11 days of +160
    assert (first[0], second[0]) == (Decimal("42.00"), Decimal("58.67"))
    # a round trip the same day costs nothing
    there = prorate(STARTER, SCALE, datetime(2026, 11, 20, tzinfo=UTC))[0]
    back = prorate(SCALE, STARTER, datetime(2026, 11, 20, 18, tzinfo=UTC))[0]
    assert there + back == 0


def test_extra_agents_are_counted_per_day():
    # Business includes 10 and costs 7 EUR per extra agent: 12 seats for 10 days, 10 seats for 20 days
    days = [(12, 10, Decimal(7))] * 10 + [(10, 10, Decimal(7))] * 20
    assert extra_agents_cost(days, 30) == (Decimal("4.67"), 20)
    assert extra_agents_cost([(3, 10, Decimal(7))] * 30, 30) == (Decimal("0.00"), 0)
