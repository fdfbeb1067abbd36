"""How much of a limit an organization uses.

Billing sits below the other apps (DESIGN.md), so it does not count tickets or
rules itself: the app that owns the data registers a counter for its limit.
"""

from __future__ import annotations

from collections.abc import Callable

from .catalogue import Limit

UsageCounter = Callable[[object], int]
_counters: dict[Limit, UsageCounter] = {}


def register(limit: Limit, counter: UsageCounter) -> None:
    _counters[limit] = counter


def usage_of(organization, limit: Limit) -> int:
    counter = _counters.get(limit)
    return counter(organization) if counter else 0
