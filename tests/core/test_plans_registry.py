"""The core asks the plan catalogue through lumiodesk.plans, which billing fills at start-up."""

import pytest

from lumiodesk import plans
from lumiodesk.exceptions import FeatureNotAvailable
from lumiodesk.models import Organization


@pytest.mark.parametrize(("plan", "sso", "retention"), [("starter", False, 30), ("business", True, 180),
                                                         ("scale", True, 365)])
def test_the_core_reads_features_and_limits_of_the_plan(plan, sso, retention):
    org = Organization(name="X", slug="x", plan=plan)
    assert plans.has_feature(org, "sso") is sso
    assert plans.limit_of(org, "audit_retention_days") == retention
    if sso:
        plans.require_feature(org, "sso")
    else:
        with pytest.raises(FeatureNotAvailable, match="Business"):
            plans.require_feature(org, "sso")
