"""Domain events of the ticket lifecycle, sent synchronously by ``tickets.services``.

Apps that depend on tickets react here instead of being called by it (DESIGN.md): ``sla`` stamps due
times, ``tickets.agent_notifications`` tells agents. Events are sent *inside* the service's transaction,
before the ticket row is saved, so a receiver may set fields on the in-memory ticket and return their
names: the service writes them in the same UPDATE (or, for ``CREATED``, one more). A receiver that
has a side effect outside the database (a task, an email) must defer it with ``transaction.on_commit``.

Arguments sent with every event: ``ticket``, ``change`` (a ``Change``), ``now`` (the instant of the
change, which may be in the past for imports and the demo), ``actor`` (the agent, or None for the
customer or the system); ``old``/``new`` for STATUS, PRIORITY and ASSIGNED (an assignee's user id);
``message`` for CREATED and MESSAGE.

TAGS (added for automations: "ticket updated" rules react to tag changes) is sent by ``set_tags`` *after*
the tags are written, with ``old``/``new`` the lists of tag names removed and added; it is informational:
nothing a receiver sets on the ticket is saved.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from django.dispatch import Signal

ticket_changed = Signal()


class Change(StrEnum):
    CREATED = "created"
    MESSAGE = "message"
    STATUS = "status"
    PRIORITY = "priority"
    ASSIGNED = "assigned"
    TAGS = "tags"  # automations: see the module docstring


def emit(ticket, change: Change, *, now: datetime, actor=None, old=None, new=None, message=None) -> set[str]:
    """Send ``ticket_changed``; returns the ticket fields receivers changed (the caller saves them)."""
    changed: set[str] = set()
    for _receiver, fields in ticket_changed.send(
        sender=type(ticket), ticket=ticket, change=change, now=now, actor=actor, old=old, new=new, message=message
    ):
        if fields:
            changed.update(fields)
    return changed
