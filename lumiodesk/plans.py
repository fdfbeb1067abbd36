"""What an organization's plan allows, for code in the core.

The core sits below ``billing`` (docs/architecture.md), so it cannot import the plan catalogue. Billing
registers its answers here when it starts (``billing.apps``); the core asks ``has_feature`` / ``limit_of`` /
``require_feature`` with the names of ``billing.catalogue.Feature`` and ``Limit`` ("sso", "audit_retention_days").
Apps above billing ask ``billing.services`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PlanAnswers:
    has_feature: Callable[[object, str], bool]
    limit_of: Callable[[object, str], int]
    require_feature: Callable[[object, str], None]


_answers: PlanAnswers | None = None


def register(answers: PlanAnswers) -> None:
    global _answers
    _answers = answers


def _registered() -> PlanAnswers:
    if _answers is None:
        raise RuntimeError("billing is not installed: nothing answers for the plans")
    return _answers


def has_feature(organization, feature: str) -> bool:
    return _registered().has_feature(organization, feature)


def limit_of(organization, limit: str) -> int:
    return _registered().limit_of(organization, limit)


def require_feature(organization, feature: str) -> None:
    """Raises ``lumiodesk.exceptions.FeatureNotAvailable`` with a message naming the plans that have it."""
    _registered().require_feature(organization, feature)
