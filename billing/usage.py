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
