"""The one place that answers "may this organization do X" and "how much of Y is left"."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from lumiodesk.exceptions import FeatureNotAvailable, PlanLimitReached

from .catalogue import (
    BLOCKING_LIMITS,
    FEATURE_LABELS,
    LIMIT_LABELS,
    PLANS,
    TICKET_ALERT_THRESHOLDS,
    Feature,
    Limit,
    PlanSpec,
)
from .usage import usage_of


def plan_of(organization) -> PlanSpec:
    return PLANS[organization.plan]


def has_feature(organization, feature: Feature) -> bool:
    return Feature(feature) in plan_of(organization).features


def require_feature(organization, feature: Feature) -> None:
    if not has_feature(organization, feature):
        plans = ", ".join(p.name for p in PLANS.values() if Feature(feature) in p.features)
        raise FeatureNotAvailable(
            _("%(feature)s n'est pas inclus dans le forfait %(plan)s (disponible sur : %(plans)s).")
            % {"feature": FEATURE_LABELS[Feature(feature)], "plan": plan_of(organization).name, "plans": plans}
        )


def limit_of(organization, limit: Limit) -> int:
    return plan_of(organization).limits[Limit(limit)]


@dataclass(frozen=True)
class LimitStatus:
    limit: Limit
    allowed: int
    used: int

    @property
    def remaining(self) -> int:
        return max(self.allowed - self.used, 0)

    @property
    def percent(self) -> int:
        return int(self.used * 100 / self.allowed) if self.allowed else 100

    @property
    def blocking(self) -> bool:
        return self.limit in BLOCKING_LIMITS

    @property
    def reached(self) -> bool:
        return self.used >= self.allowed

    @property
    def alert_threshold(self) -> int | None:
        """Highest overage threshold crossed (80/100/120 %), for the ticket quota."""
        crossed = [t for t in TICKET_ALERT_THRESHOLDS if self.percent >= t]
        return crossed[-1] if crossed else None


def limit_status(organization, limit: Limit) -> LimitStatus:
    limit = Limit(limit)
    return LimitStatus(limit=limit, allowed=limit_of(organization, limit), used=usage_of(organization, limit))


def require_capacity(organization, limit: Limit, *, adding: int = 1) -> LimitStatus:
    """Refuse an action that would go past a blocking limit; other limits only report."""
    status = limit_status(organization, limit)
    if status.blocking and status.used + adding > status.allowed:
        raise PlanLimitReached(
            _("Limite atteinte : le forfait %(plan)s permet %(n)s %(what)s.")
            % {"plan": plan_of(organization).name, "n": status.allowed, "what": LIMIT_LABELS[status.limit]}
        )
    return status
