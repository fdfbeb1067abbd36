"""How automations react to ``tickets.events`` (connected in ``AutomationsConfig.ready``).

- ``created``: the rules run now, inside the creating transaction (``engine.evaluate_created``), then the
  ``ticket.created`` webhook is written with the ticket as the rules left it;
- a customer message: rules on "customer replied", after the commit;
- any other change (status, priority, assignee, tags, an agent's reply or note): rules on "updated",
  after the commit;
- assigned / resolved / reopened: the webhook deliveries, in the transaction (outbox, sent after commit).

While a rule's actions run (``engine.running()``), their events evaluate no rule (no recursion), but
still send webhooks. Imported tickets trigger nothing. The receiver sets no ticket field: it returns None.
"""

from __future__ import annotations

from datetime import datetime

from django.dispatch import receiver

from tickets.events import Change, ticket_changed
from tickets.models import Message, MessageKind, Ticket

from . import engine, webhooks
from .models import Trigger


def trigger_for(change: str, message: Message | None) -> str:
    if change == Change.CREATED:
        return Trigger.CREATED
    if change == Change.MESSAGE and message is not None and message.kind == MessageKind.CUSTOMER:
        return Trigger.CUSTOMER_REPLIED
    return Trigger.UPDATED


@receiver(ticket_changed, dispatch_uid="automations.on_ticket_changed")
def on_ticket_changed(sender, *, ticket: Ticket, change: str, now: datetime, actor=None, old=None, new=None,
                      message: Message | None = None, **kwargs) -> None:
    if ticket.imported:
        return None
    trigger = trigger_for(change, message)
    if trigger == Trigger.CREATED:
        if not engine.is_running():
            engine.evaluate_created(ticket, message=message, now=now)
    elif not engine.is_running():
        engine.schedule_after_commit(ticket, trigger, message)
    webhooks.on_ticket_event(ticket, change, old=old, new=new, now=now)
    return None
