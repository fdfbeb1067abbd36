"""The ticket pipeline (tickets.pipeline): its order is written once, in settings, and this file pins it:
the steps run in order inside the transaction (a creation rule sees the SLA stamps), then the subscribers,
whose work runs after the commit, in order; a rule's own changes run the pipeline again, without rules."""

from __future__ import annotations

import pytest
from automation_helpers import rule
from django.conf import settings
from django.test import override_settings
from factories import acting

from automations.models import AutomationRun
from tickets import services
from tickets.models import Priority, Ticket
from tickets.pipeline import ChangeKind, TicketChange, pipeline

pytestmark = pytest.mark.django_db

ORDER = {
    "steps": [
        "sla.pipeline.stamp_due_times",
        "tickets.assignment.pipeline.assign_by_availability",
        "automations.pipeline.rules_on_creation",
    ],
    "subscribers": [
        "tickets.subscribers.notify_agents_of_change",
        "tickets.subscribers.follow_chat_inbox",
        "tickets.subscribers.forget_cached_counts",
        "automations.pipeline.rules_after_update",
        "automations.webhooks.on_ticket_change",
        "billing.alerts.on_ticket_created",
    ],
}


def test_the_order_is_written_once_in_settings():
    assert settings.TICKET_PIPELINE == ORDER
    p = pipeline()
    assert [f"{f.__module__}.{f.__name__}" for f in p.steps] == ORDER["steps"]
    assert [f"{f.__module__}.{f.__name__}" for f in p.subscribers] == ORDER["subscribers"]


# Probes placed between the real entries: they record what they see, in the order they are called.
SEEN: list[tuple] = []


def _row(ticket: Ticket):
    return Ticket.objects.filter(pk=ticket.pk).values_list("first_response_due_at", flat=True).first()


def after_sla(c: TicketChange) -> set[str]:
    SEEN.append(("after_sla", c.kind, c.ticket.first_response_due_at is not None, c.ticket.priority, _row(c.ticket)))
    return set()


def after_rules(c: TicketChange) -> set[str]:
    SEEN.append(("after_rules", c.kind, c.ticket.priority))
    return set()


def first_subscriber(c: TicketChange):
    SEEN.append(("subscriber", c.kind))
    return lambda: SEEN.append(("after_commit", c.kind))


PROBED = {
    "steps": [ORDER["steps"][0], f"{__name__}.after_sla", *ORDER["steps"][1:], f"{__name__}.after_rules"],
    "subscribers": [f"{__name__}.first_subscriber", *ORDER["subscribers"]],
}


def test_steps_in_order_then_subscribers_then_after_commit(world, queued_tasks, django_capture_on_commit_callbacks):
    rule(world.org, actions=[{"type": "set_priority", "priority": "urgent"}])
    SEEN.clear()
    with override_settings(TICKET_PIPELINE=PROBED), django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(organization=world.org, customer=world.customer, subject="Écran noir",
                                        body="Plus rien ne s'affiche.", actor=acting(world.agent))
        assert ("after_commit", ChangeKind.CREATED) not in SEEN  # nothing after the commit before it
    created, priority = ChangeKind.CREATED, ChangeKind.PRIORITY
    assert [s[:2] for s in SEEN] == [
        ("after_sla", created),  # 1. the SLA step stamped the new ticket
        # 2. the creation rule acts through set_priority: a change of its own, whole pipeline but the rules
        ("after_sla", priority), ("after_rules", priority), ("subscriber", priority),
        ("after_rules", created),  # the creation's steps are done
        ("subscriber", created),  # then its subscribers
        ("after_commit", priority), ("after_commit", created),  # their work after the commit, in order
    ]
    first = SEEN[0]
    assert first[2] is True and first[3] == Priority.NORMAL  # stamped; rules not run yet
    rule_change = SEEN[1]
    assert rule_change[4] is not None  # the row the rule's action works on carries the SLA stamps
    assert SEEN[4][2] == Priority.URGENT  # the creating service saves what the rule left
    ticket.refresh_from_db()
    assert ticket.priority == Priority.URGENT and ticket.first_response_due_at is not None
    assert AutomationRun.objects.filter(ticket=ticket).count() == 1  # the rule's change re-ran no rule


def test_nothing_after_a_rollback(world, queued_tasks, django_capture_on_commit_callbacks):
    from django.db import transaction

    SEEN.clear()
    with (override_settings(TICKET_PIPELINE=PROBED), django_capture_on_commit_callbacks(execute=True),
          pytest.raises(RuntimeError), transaction.atomic()):
        services.set_priority(ticket=world.ticket, priority=Priority.HIGH, actor=acting(world.agent))
        raise RuntimeError
    assert ("subscriber", ChangeKind.PRIORITY) in SEEN
    assert not [s for s in SEEN if s[0] == "after_commit"]
