"""How much of a limit an organization uses.

Billing sits below the other apps (DESIGN.md), so it does not count tickets or
rules itself: the app that owns the data registers a counter for its limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .catalogue import Limit

UsageCounter = Callable[[object], int]
_counters: dict[Limit, UsageCounter] = {}


def register(limit: Limit, counter: UsageCounter) -> None:
    _counters[limit] = counter


def usage_of(organization, limit: Limit) -> int:
    counter = _counters.get(limit)
    return counter(organization) if counter else 0


# (organization, the item just added) -> at most that many used, or None when it cannot say: what the owner of
# the items can tell without counting them (the tickets: their numbers), so that a check that only matters near a
# threshold does not count the month's items on every addition.
UsageBound = Callable[[object, object], "int | None"]
_bounds: dict[Limit, UsageBound] = {}


def register_bound(limit: Limit, bound: UsageBound) -> None:
    _bounds[limit] = bound


def usage_at_most(organization, limit: Limit, item) -> int | None:
    bound = _bounds.get(limit)
    return bound(organization, item) if bound else None


@dataclass(frozen=True)
class Reducer:
    """How to bring a limit's usage down when a smaller plan is chosen (the Admin picks what): registered by
    the app that owns the items (``automations`` for active rules), as the counters are."""

    items: Callable[[object], list[tuple[int, str]]]  # (organization) -> the active items: (id, label)
    deactivate: Callable[[object, list[int], object], None]  # (organization, ids, actor)


_reducers: dict[Limit, Reducer] = {}


def register_reducer(limit: Limit, reducer: Reducer) -> None:
    _reducers[limit] = reducer


def reducer_for(limit: Limit) -> Reducer | None:
    return _reducers.get(limit)
