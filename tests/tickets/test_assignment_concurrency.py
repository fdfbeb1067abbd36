"""Assignment by availability under load: the step's queries do not grow with the team, and two tickets
created at the same moment (two threads, two connections, real PostgreSQL) go to two agents of equal load."""

from __future__ import annotations

import threading

import pytest
from assignment_helpers import online, open_all_week, turn_on
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from factories import CustomerFactory, OrganizationFactory, TicketFactory, member

from lumiodesk.models import Role
from tickets.models import Ticket


def _creation_queries(org, n_agents: int) -> list[str]:
    for i in range(n_agents):
        u = member(org, Role.AGENT, first_name=f"Agent{i}")
        online(org, u)
        TicketFactory(organization=org, assignee=u)  # a load of 1 each
    customer = CustomerFactory(organization=org)
    with CaptureQueriesContext(connection) as ctx:
        t = TicketFactory(organization=org, customer=customer)
    assert t.assignee_id is not None
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.django_db
def test_the_step_costs_the_same_queries_for_3_and_30_agents():
    small, large, off = OrganizationFactory(), OrganizationFactory(), OrganizationFactory()
    for org in (small, large, off):
        open_all_week(org)
    turn_on(small)
    turn_on(large)
    few, many = _creation_queries(small, 3), _creation_queries(large, 30)
    assert len(few) == len(many), "\n".join(many)
    customer = CustomerFactory(organization=off)
    with CaptureQueriesContext(connection) as ctx:
        TicketFactory(organization=off, customer=customer)
    # What assigning adds to a creation: the setting, the calendar, the team, the assignee, the turn, and
    # ``assign``'s own (the assignee's membership, the UPDATE, the audit row, the webhook endpoints).
    assert len(few) - len(ctx.captured_queries) <= 10, "\n".join(few)


@pytest.mark.django_db(transaction=True)
def test_two_creations_at_once_go_to_two_agents():
    org = OrganizationFactory()
    open_all_week(org)
    a, b = member(org, Role.AGENT, first_name="Anna"), member(org, Role.AGENT, first_name="Bruno")
    turn_on(org)
    online(org, a, b)
    customers = [CustomerFactory(organization=org) for _ in range(2)]
    barrier = threading.Barrier(2)
    made, errors = [], []

    def create(customer):
        try:
            barrier.wait(timeout=10)
            made.append(TicketFactory(organization=org, customer=customer).pk)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assignees = sorted(Ticket.objects.filter(pk__in=made).values_list("assignee_id", flat=True))
    assert assignees == sorted([a.pk, b.pk])
