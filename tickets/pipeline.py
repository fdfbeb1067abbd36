"""The ticket pipeline: what happens when a ticket changes, in order. Open this module first.

Every service of ``tickets.services`` that changes a ticket (creation, a message, a status, the priority, the
assignee, the tags) builds one ``TicketChange`` and calls ``run`` with it, inside its transaction, before it
saves the ticket. No Django signal is involved: the order below is the order things happen.

The order is written once, in ``settings.TICKET_PIPELINE`` (the composition root: ``tickets`` sits *below*
``sla`` and ``automations`` and never imports them; the settings name them by dotted path, as
``MIDDLEWARE`` does), and loaded once with ``import_string``::

    TICKET_PIPELINE = {
        "steps": [                                        # inside the transaction, before the save
            "sla.pipeline.stamp_due_times",               # 1. SLA due times, pauses, outcomes
            "tickets.assignment.pipeline.assign_by_availability",  # 2. creation: the available agent
            "automations.pipeline.rules_on_creation",     # 3. "ticket created" rules (they see 1 and 2)
        ],
        "subscribers": [                                  # then; their effects after the commit, in this order
            "tickets.subscribers.notify_agents_of_change",  # assigned / urgent / customer reply / mention
            "tickets.subscribers.follow_chat_inbox",        # the chat inbox follows its tickets
            "tickets.subscribers.forget_cached_counts",     # the cached "closed", "resolved today"
            "automations.pipeline.rules_after_update",      # "updated" / "customer replied" rules
            "automations.webhooks.on_ticket_change",        # webhook outbox rows
        ],
    }

Contract of a **step** ``(change: TicketChange) -> set[str]``: it runs inside the service's transaction, in
the written order, may set fields on ``change.ticket`` and returns their names; the service writes them in
the same UPDATE as its own change (for a creation, one more). A later step sees what an earlier one set (the
creation rules see the SLA due times). A step acts outside the database only through changes of its own (a
rule's action is a service call: its subscribers' work also waits for the commit).

Contract of a **subscriber** ``(change: TicketChange) -> Callable[[], None] | None``: it is called right after
the steps, still inside the transaction, and sets no ticket field. It decides *now* what the change means and
returns what to do *after the commit*, or None. (A creation rule's own changes run before the creation's
subscribers; the CREATED change carries in ``new`` what the ticket was created with, so each is told once.)
The pipeline hands that callable to ``transaction.on_commit`` (robust: a failing one is logged and never
stops the next), in the written order; a rolled-back change does nothing. Two subscribers also write rows
that must commit with the change: the chat inbox (``waiting_since``) and the webhook outbox
(``automations.webhooks``: a committed change always has its deliveries, sent after the commit by the task).

Recursion is bounded at one level: a rule's actions go through the same services as the system actor, so
each of them runs this pipeline again (SLA stamps, notifications, webhooks), but rules do not run on
changes made by rules (``automations.engine.running``). Imported tickets run the steps (the SLA clock
stamps nothing for them) and nothing else reacts to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.utils.module_loading import import_string

from .models import Message, Ticket


class ChangeKind(StrEnum):
    CREATED = "created"
    MESSAGE = "message"
    STATUS = "status"
    PRIORITY = "priority"
    ASSIGNED = "assigned"
    TAGS = "tags"  # sent by set_tags once the tags are written; a step's fields are not saved for it


@dataclass(frozen=True)
class TicketChange:
    """One change of one ticket.

    ``now``: the instant of the change (in the past for imports and the demo). ``actor``: the agent, or None
    for the customer or the system. ``old``/``new``: for STATUS and PRIORITY the codes, for ASSIGNED the
    assignee's user id, for TAGS the tag names removed and added; for CREATED, ``new`` is
    ``{"assignee": id, "priority": code}`` as the ticket was created (a creation rule that changes them makes
    a change of its own, which runs before the creation's subscribers). ``message``: for CREATED and MESSAGE.
    """

    ticket: Ticket
    kind: ChangeKind
    now: datetime
    actor: Any = None
    old: Any = None
    new: Any = None
    message: Message | None = None


Step = Callable[[TicketChange], "set[str] | None"]
Subscriber = Callable[[TicketChange], "Callable[[], None] | None"]


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[Step, ...]
    subscribers: tuple[Subscriber, ...]


@cache
def pipeline() -> Pipeline:
    """``settings.TICKET_PIPELINE``, imported once."""
    conf = settings.TICKET_PIPELINE
    return Pipeline(
        steps=tuple(import_string(path) for path in conf["steps"]),
        subscribers=tuple(import_string(path) for path in conf["subscribers"]),
    )


def _reset(*, setting: str, **kwargs) -> None:
    if setting == "TICKET_PIPELINE":  # tests that override the setting
        pipeline.cache_clear()


setting_changed.connect(_reset, dispatch_uid="tickets.pipeline.reset")


def run(change: TicketChange) -> set[str]:
    """Run the steps, then the subscribers; returns the ticket fields the steps set (the caller saves them)."""
    p = pipeline()
    fields: set[str] = set()
    for step in p.steps:
        fields |= step(change) or set()
    for subscriber in p.subscribers:
        after_commit = subscriber(change)
        if after_commit is not None:
            transaction.on_commit(after_commit, robust=True)
    return fields
