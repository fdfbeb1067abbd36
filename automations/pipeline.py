"""The automations' part of the ticket pipeline (``tickets.pipeline``; the order is in ``TICKET_PIPELINE``).

- ``rules_on_creation``, a **step** after the SLA step: the "ticket created" rules run inside the creating
  transaction, so the ticket is committed with what its rules gave it (``automations.engine``);
- ``rules_after_update``, a **subscriber**: the "updated" and "customer replied" rules run after the commit,
  once per ticket and trigger per transaction;
- ``automations.webhooks.on_ticket_change``, a **subscriber**: the webhook outbox rows.

Recursion: a rule's actions call the public services as the system actor (``actor=None``); each such call is
a ticket change that runs the pipeline again, but no rule runs while a rule's actions run
(``engine.running()``): rules never trigger rules. Imported tickets run no rule, nor a ticket marked as spam
(``tickets.services.spam``: closing it as spam, or changing it while it is one, runs no "updated" rule).
"""

from __future__ import annotations

from collections.abc import Callable

from tickets.models import Message, MessageKind
from tickets.pipeline import ChangeKind, TicketChange

from . import engine
from .models import Trigger


def trigger_for(change: str, message: Message | None) -> str:
    if change == ChangeKind.CREATED:
        return Trigger.CREATED
    if change == ChangeKind.MESSAGE and message is not None and message.kind == MessageKind.CUSTOMER:
        return Trigger.CUSTOMER_REPLIED
    return Trigger.UPDATED


def rules_on_creation(c: TicketChange) -> set[str]:
    """The "ticket created" rules, now. Their actions go through the services, which read and write the
    ticket row: the engine saves the ticket (with the SLA step's stamps) before the first action and reloads it
    after the last, so nothing is left for the creating service to save: returns no field."""
    if c.kind != ChangeKind.CREATED or c.ticket.imported or engine.is_running():
        return set()
    engine.evaluate_created(c.ticket, message=c.message, now=c.now)
    return set()


def rules_after_update(c: TicketChange) -> Callable[[], None] | None:
    """The "updated" / "customer replied" rules, after the commit (``engine.AfterCommit``); None when this
    transaction already has that evaluation queued, or the organization no rule for that trigger."""
    if c.kind == ChangeKind.CREATED or c.ticket.imported or engine.is_running():
        return None
    if c.ticket.spam_at is not None:  # closed as spam (or changed while it is one): no word, no rule (002)
        return None
    return engine.after_commit(c.ticket, trigger_for(c.kind, c.message), c.message)
