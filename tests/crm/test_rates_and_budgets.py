"""Hourly costs (history, who may set them), budget periods and pace, customer edits (audited)."""

from datetime import date
from decimal import Decimal

import pytest
from factories import SYSTEM, CompanyFactory, acting

from crm import budgets, rates
from crm import services as crm_services
from crm.models import Budget, HourlyRate
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog

pytestmark = pytest.mark.django_db


def test_an_admin_sets_a_rate_from_a_date_and_the_history_is_kept(world):
    admin = acting(world.admin)
    rates.set_rate(actor=admin, organization=world.org, user=world.agent, amount="40", effective_from=date(2025, 1, 1))
    rates.set_rate(actor=admin, organization=world.org, user=world.agent, amount="45,50",
                   effective_from=date(2025, 3, 1))
    assert rates.rate_on(world.org.pk, world.agent.pk, date(2024, 12, 31)) is None
    assert rates.rate_on(world.org.pk, world.agent.pk, date(2025, 2, 28)) == Decimal("40.00")
    assert rates.rate_on(world.org.pk, world.agent.pk, date(2025, 3, 1)) == Decimal("45.50")
    assert HourlyRate.objects.filter(user=world.agent).count() == 2
    row = AuditLog.objects.get(action="rate.set", data__after__amount="45.50")
    assert row.data["before"] == {"amount": "40.00"}


def test_managers_read_rates_but_only_admins_set_them(world):
    for who in (world.manager, world.agent, world.viewer):
        with pytest.raises(NotPermitted):
            rates.set_rate(actor=acting(who), organization=world.org, user=world.agent, amount="40",
                           effective_from=date(2025, 1, 1))
    with pytest.raises(NotPermitted):  # another organization's admin
        rates.set_rate(actor=acting(world.outsider), organization=world.org, user=world.agent, amount="40",
                       effective_from=date(2025, 1, 1))


@pytest.mark.parametrize("typed", ["abc", "-5", "1e9", "", "NaN"])
def test_a_bad_amount_is_refused(world, typed):
    with pytest.raises(InvalidInput):
        rates.set_rate(actor=acting(world.admin), organization=world.org, user=world.agent, amount=typed,
                       effective_from=date(2025, 1, 1))


def test_cost_is_minutes_times_rate_to_the_cent():
    assert rates.cost_of(90, Decimal("40")) == Decimal("60.00")
    assert rates.cost_of(7, Decimal("45.50")) == Decimal("5.31")  # 5.3083 → 5.31
    assert rates.cost_of(1, Decimal("0")) == Decimal("0.00")


@pytest.mark.parametrize(("period", "day", "bounds"), [
    ("month", date(2025, 12, 15), (date(2025, 12, 1), date(2026, 1, 1))),
    ("month", date(2025, 2, 1), (date(2025, 2, 1), date(2025, 3, 1))),
    ("quarter", date(2025, 11, 30), (date(2025, 10, 1), date(2026, 1, 1))),
    ("quarter", date(2025, 5, 2), (date(2025, 4, 1), date(2025, 7, 1))),
    ("year", date(2025, 6, 1), (date(2025, 1, 1), date(2026, 1, 1))),
])
def test_period_bounds(period, day, bounds):
    assert budgets.period_bounds(period, day) == bounds


def test_pace_forecasts_the_end_of_the_period(world):
    company = CompanyFactory(organization=world.org)
    budget = budgets.save_budget(actor=acting(world.manager), organization=world.org, period="month",
                                 day=date(2025, 4, 10), amount="1000", company=company)
    p = budgets.pace(budget, Decimal("300"), date(2025, 4, 10))  # 10 days of 30: 300 → 900
    assert (p.percent, p.forecast, p.state) == (30, Decimal("900.00"), "ok")
    p = budgets.pace(budget, Decimal("400"), date(2025, 4, 10))  # → 1200: an overrun is predicted
    assert (p.forecast_percent, p.state) == (120, "warning")
    assert budgets.pace(budget, Decimal("1000"), date(2025, 4, 30)).state == "over"


def test_a_budget_is_one_per_owner_and_period_and_its_amount_can_change(world):
    company = CompanyFactory(organization=world.org)
    manager = acting(world.manager)
    first = budgets.save_budget(actor=manager, organization=world.org, period="quarter", day=date(2025, 5, 5),
                                amount="3000", company=company)
    again = budgets.save_budget(actor=manager, organization=world.org, period="quarter", day=date(2025, 6, 30),
                                amount="3500", company=company)
    assert first.pk == again.pk and again.amount == Decimal("3500.00") and again.start == date(2025, 4, 1)
    with pytest.raises(NotPermitted):
        budgets.save_budget(actor=acting(world.agent), organization=world.org, period="month", day=date(2025, 5, 5),
                            amount="1", company=company)
    with pytest.raises(InvalidInput):  # both owners, or none
        budgets.save_budget(actor=manager, organization=world.org, period="month", day=date(2025, 5, 5),
                            amount="1", company=company, customer=world.customer)
    with pytest.raises(InvalidInput):
        budgets.save_budget(actor=manager, organization=world.org, period="month", day=date(2025, 5, 5),
                            amount="0", customer=world.customer)
    budgets.delete_budget(actor=manager, budget=again)
    assert not Budget.objects.exists()
    assert AuditLog.objects.filter(action__in=["budget.saved", "budget.deleted"]).count() == 3


def test_an_agent_edits_a_customer_and_the_change_is_in_the_history(world):
    company = CompanyFactory(organization=world.org, name="Boulangerie")
    crm_services.update_customer(actor=acting(world.agent), customer=world.customer,
                                 data={"phone": "01 02 03 04 05", "company": company})
    world.customer.refresh_from_db()
    assert world.customer.phone == "01 02 03 04 05" and world.customer.company == company
    [row] = crm_services.history(world.org, target_type="customer", target_id=world.customer.pk)
    assert row.action == "customer.updated" and row.actor == world.agent
    assert row.data["after"] == {"phone": "01 02 03 04 05", "company": "Boulangerie"}
    with pytest.raises(NotPermitted):
        crm_services.update_customer(actor=acting(world.viewer), customer=world.customer, data={"phone": "x"})


def test_an_email_taken_by_another_customer_is_refused(world):
    other = crm_services.get_or_create_customer(organization=world.org, email="autre@example.com")
    with pytest.raises(InvalidInput, match="fusionnez"):
        crm_services.update_customer(actor=acting(world.agent), customer=world.customer,
                                     data={"email": "AUTRE@example.com"})
    assert other.pk


def test_company_names_stay_unique(world):
    a, b = CompanyFactory(organization=world.org, name="Alpha"), CompanyFactory(organization=world.org, name="Beta")
    with pytest.raises(InvalidInput):
        crm_services.update_company(actor=acting(world.agent), company=b, data={"name": "alpha"})
    crm_services.update_company(actor=SYSTEM, company=a, data={"name": "Alpha SA", "domain": "alpha.fr"})
    a.refresh_from_db()
    assert (a.name, a.domain) == ("Alpha SA", "alpha.fr")
