"""Assignment by availability in tests: the setting on, members online, opening hours all week."""

from __future__ import annotations

from datetime import time

from factories import SYSTEM

from lumiodesk import presence
from lumiodesk.models import BusinessHours, Role
from tickets.assignment import services


def turn_on(org, *, load_limit=20, roles=(Role.AGENT, Role.MANAGER)):
    return services.save_setting(actor=SYSTEM, organization=org, enabled=True, load_limit=load_limit, roles=roles)


def online(org, *users) -> None:
    for u in users:
        presence.beat(org.pk, u.pk)


def open_all_week(org, is_open: bool = True) -> None:
    """Open every day round the clock (or closed every day): the tests do not depend on the hour they run."""
    for day in range(7):
        BusinessHours.objects.update_or_create(
            organization=org, weekday=day, defaults={"is_open": is_open, "opens": time(0, 0), "closes": time(0, 0)}
        )
