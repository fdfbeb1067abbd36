"""The plan catalogue and the feature/limit checks (billing)."""

from decimal import Decimal

import pytest
from factories import OrganizationFactory, TicketFactory

from billing import services as billing
from billing import usage
from billing.catalogue import PLANS, Feature, Limit
from billing.services import LimitStatus
from lumiodesk.exceptions import FeatureNotAvailable, PlanLimitReached

CATALOGUE = {
    # plan: agents, tickets/month, automations, SSO, API rpm, exports/month, audit days, attachment months, EUR/agent
    "starter": (3, 1_000, 5, False, 0, 2, 30, 12, "9"),
    "business": (10, 10_000, 30, True, 600, 20, 180, 24, "7"),
    "scale": (30, 50_000, 100, True, 2_400, 100, 365, 36, "5"),
}


@pytest.mark.parametrize("code", CATALOGUE)
def test_catalogue_matches_the_documentation(code):
    agents, tickets, automations, sso, api_rpm, exports, audit_days, attachment_months, extra = CATALOGUE[code]
    plan = PLANS[code]
    assert plan.limits[Limit.AGENTS_INCLUDED] == agents
    assert plan.limits[Limit.TICKETS_PER_MONTH] == tickets
    assert plan.limits[Limit.ACTIVE_AUTOMATIONS] == automations
    assert (Feature.SSO in plan.features) is sso
    assert plan.limits[Limit.API_REQUESTS_PER_MINUTE] == api_rpm
    assert (Feature.API in plan.features) is (api_rpm > 0)
    assert plan.limits[Limit.EXPORTS_PER_MONTH] == exports
    assert plan.limits[Limit.AUDIT_RETENTION_DAYS] == audit_days
    assert plan.limits[Limit.ATTACHMENT_RETENTION_MONTHS] == attachment_months
    assert plan.extra_agent_eur == Decimal(extra)


def test_every_plan_has_every_limit_and_the_common_features():
    for plan in PLANS.values():
        assert set(plan.limits) == set(Limit)
        assert {Feature.TWO_FACTOR, Feature.CHAT_WIDGET, Feature.CSV_EXPORT, Feature.EMAIL_FORWARDING} <= plan.features


@pytest.mark.parametrize("plan, expected", [("starter", False), ("business", True), ("scale", True)])
def test_has_feature(plan, expected):
    org = OrganizationFactory.build(plan=plan)
    assert billing.has_feature(org, Feature.SSO) is expected
    assert billing.has_feature(org, "sso") is expected
    assert billing.has_feature(org, Feature.TWO_FACTOR) is True


def test_require_feature_names_the_plans_that_have_it():
    with pytest.raises(FeatureNotAvailable) as exc:
        billing.require_feature(OrganizationFactory.build(plan="starter"), Feature.SSO)
    assert "Starter" in exc.value.message
    assert "Business, Scale" in exc.value.message
    assert exc.value.status_code == 402
    billing.require_feature(OrganizationFactory.build(plan="business"), Feature.SSO)  # no error


def test_unknown_feature_is_a_programming_error():
    with pytest.raises(ValueError):
        billing.has_feature(OrganizationFactory.build(plan="scale"), "teleportation")


@pytest.fixture
def used(monkeypatch):
    """Pretend the organization uses ``n`` of a limit: ``used(Limit.X, n)``."""

    def set_usage(limit, n):
        monkeypatch.setitem(usage._counters, limit, lambda org: n)

    return set_usage


@pytest.mark.parametrize("n, ok", [(0, True), (1, True), (2, False), (5, False)])
def test_exports_are_a_blocking_limit(used, n, ok):
    org = OrganizationFactory.build(plan="starter")
    used(Limit.EXPORTS_PER_MONTH, n)
    if ok:
        assert billing.require_capacity(org, Limit.EXPORTS_PER_MONTH).remaining == 2 - n
    else:
        with pytest.raises(PlanLimitReached) as exc:
            billing.require_capacity(org, Limit.EXPORTS_PER_MONTH)
        assert "Starter" in exc.value.message and "2" in exc.value.message


def test_require_capacity_counts_what_is_being_added(used):
    org = OrganizationFactory.build(plan="starter")
    used(Limit.ACTIVE_AUTOMATIONS, 3)
    billing.require_capacity(org, Limit.ACTIVE_AUTOMATIONS, adding=2)
    with pytest.raises(PlanLimitReached):
        billing.require_capacity(org, Limit.ACTIVE_AUTOMATIONS, adding=3)


@pytest.mark.parametrize("n", [999, 1_000, 1_200, 5_000])
def test_tickets_per_month_never_block(used, n):
    org = OrganizationFactory.build(plan="starter")
    used(Limit.TICKETS_PER_MONTH, n)
    status = billing.require_capacity(org, Limit.TICKETS_PER_MONTH)
    assert status.blocking is False
    assert status.used == n


def test_agents_beyond_those_included_are_billed_not_refused(used):
    used(Limit.AGENTS_INCLUDED, 7)
    status = billing.require_capacity(OrganizationFactory.build(plan="starter"), Limit.AGENTS_INCLUDED)
    assert status.reached and not status.blocking


@pytest.mark.django_db
def test_a_ticket_over_the_monthly_quota_is_still_accepted(used):
    org = OrganizationFactory(plan="starter")
    used(Limit.TICKETS_PER_MONTH, 1_500)
    ticket = TicketFactory(organization=org)
    assert ticket.pk is not None
    assert billing.limit_status(org, Limit.TICKETS_PER_MONTH).alert_threshold == 120


@pytest.mark.django_db
def test_tickets_this_month_are_counted_per_organization():
    org, other = OrganizationFactory(), OrganizationFactory()
    TicketFactory.create_batch(3, organization=org)
    TicketFactory(organization=other)
    status = billing.limit_status(org, Limit.TICKETS_PER_MONTH)
    assert (status.allowed, status.used, status.remaining, status.percent) == (1_000, 3, 997, 0)


@pytest.mark.parametrize(
    "used_, percent, threshold",
    [
        (0, 0, None),
        (799, 79, None),
        (800, 80, 80),
        (999, 99, 80),
        (1_000, 100, 100),
        (1_199, 119, 100),
        (1_200, 120, 120),
        (3_000, 300, 120),
    ],
)
def test_ticket_quota_alert_thresholds(used_, percent, threshold):
    status = LimitStatus(limit=Limit.TICKETS_PER_MONTH, allowed=1_000, used=used_)
    assert status.percent == percent
    assert status.alert_threshold == threshold


def test_a_zero_limit_is_full():
    status = LimitStatus(limit=Limit.API_REQUESTS_PER_MINUTE, allowed=0, used=0)
    assert status.percent == 100
    assert status.reached
    assert status.remaining == 0


def test_limits_without_a_counter_report_zero_use():
    org = OrganizationFactory.build(plan="scale")
    assert billing.limit_status(org, Limit.AUDIT_RETENTION_DAYS).used == 0
    assert billing.limit_of(org, Limit.AUDIT_RETENTION_DAYS) == 365
