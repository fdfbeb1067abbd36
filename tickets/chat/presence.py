"""Which organizations have an agent available for live chat right now.

An agent is available while a console page is open: the chat badge in the top bar polls every
``HEARTBEAT_SECONDS`` (whether the tab is visible or not) and each poll refreshes one Redis key per
organization that expires after ``PRESENCE_TTL`` seconds. The TTL covers three missed beats: Chrome
throttles the timers of a hidden tab to about once a minute, and a closed console (or a lost
network) is forgotten within the TTL. One key per organization keeps the widget's question — "is
anyone here?" — a single Redis GET, and nothing is written to PostgreSQL on every poll.
"""

from __future__ import annotations

import time

from django.core.cache import cache

HEARTBEAT_SECONDS = 15
PRESENCE_TTL = 75


def _key(organization_id: int) -> str:
    return f"chat:presence:{organization_id}"


def beat(organization_id: int, user_id: int) -> None:
    """An agent of this organization has the console open."""
    cache.set(_key(organization_id), {"user": user_id, "at": time.time()}, timeout=PRESENCE_TTL)


def agents_online(organization_id: int) -> bool:
    return cache.get(_key(organization_id)) is not None


def forget(organization_id: int) -> None:
    cache.delete(_key(organization_id))
