"""Assignment by availability (001 §2 option; ``tickets.assignment``): a creation goes to the available agent
with the fewest open tickets, round-robin on ties; nobody outside opening hours, Absent, offline or at the load
limit; off by default; a hand-picked assignee and a creation rule still win; every channel. (Queries and two
creations at once: ``test_assignment_concurrency.py``.)"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from api_helpers import bearer, new_key, on_plan
from assignment_helpers import online, open_all_week, turn_on
from automation_helpers import rule
from conftest import run_queued
from django.utils import timezone
from factories import SYSTEM, CustomerFactory, TicketFactory, acting, member

from lumiodesk import presence
from lumiodesk.models import AgentNotification, AuditLog, Holiday, Membership, Role
from tickets import services
from tickets.assignment import services as assignment_services
from tickets.assignment.models import AssignmentTurn
from tickets.email import intake
from tickets.email.models import Mailbox
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db


def new(org, **fields) -> Ticket:
    fields.setdefault("customer", CustomerFactory(organization=org))
    return TicketFactory(organization=org, **fields)


def load(org, user, n):
    for _ in range(n):
        new(org, assignee=user)


@pytest.fixture
def team(world):
    """Open all week round the clock, the world's Agent and Manager online, the setting on."""
    open_all_week(world.org)
    turn_on(world.org)
    online(world.org, world.agent, world.manager)
    return world


def test_off_by_default_and_when_turned_off(world):
    open_all_week(world.org)
    online(world.org, world.agent, world.manager)
    assert new(world.org).assignee_id is None
    turn_on(world.org)
    assignment_services.save_setting(
        actor=SYSTEM, organization=world.org, enabled=False, load_limit=20, roles=[Role.AGENT]
    )
    assert new(world.org).assignee_id is None


def test_the_fewest_open_tickets_wins(team):
    w = team
    load(w.org, w.agent, 2)
    load(w.org, w.manager, 1)
    assert new(w.org).assignee_id == w.manager.pk
    # Resolved tickets are no load: the agent's two resolved, the agent is now the least loaded.
    for t in Ticket.objects.filter(assignee=w.agent):
        services.change_status(ticket=t, status=Status.RESOLVED, actor=acting(w.agent))
    assert new(w.org).assignee_id == w.agent.pk


def test_round_robin_on_ties(team):
    w = team
    third = member(w.org, Role.AGENT, first_name="Théo")
    online(w.org, third)
    got = []
    for _ in range(6):
        t = new(w.org)
        got.append(t.assignee_id)
        services.change_status(ticket=t, status=Status.RESOLVED, actor=SYSTEM)  # loads stay equal (0)
    first_three = got[:3]
    assert sorted(first_three) == sorted([w.agent.pk, w.manager.pk, third.pk])  # each once
    assert got[3:] == first_three  # then the same order again
    assert AssignmentTurn.objects.filter(organization=w.org).count() == 3


def test_the_load_limit(team):
    w = team
    turn_on(w.org, load_limit=2)
    load(w.org, w.agent, 2)
    load(w.org, w.manager, 1)
    assert new(w.org).assignee_id == w.manager.pk  # the agent is at the limit
    assert new(w.org).assignee_id is None  # both at 2: nobody


def test_absent_and_offline_members_and_viewers_and_admins_by_default_get_nothing(team, client):
    w = team
    online(w.org, w.admin, w.viewer)
    presence.set_absent(actor=acting(w.manager), absent=True)
    load(w.org, w.agent, 3)
    assert new(w.org).assignee_id == w.agent.pk  # the manager (0) is Absent; admin and viewer not eligible
    client.force_login(w.agent)
    client.post("/logout/")  # signing out is offline at once
    assert not presence.is_online(w.org.pk, w.agent.pk)
    assert new(w.org).assignee_id is None
    presence.set_absent(actor=acting(w.manager), absent=False)
    assert new(w.org).assignee_id == w.manager.pk  # back (and still in the console)


def test_presence_expires(team):
    w = team
    presence.forget(w.org.pk, w.manager.pk)
    assert new(w.org).assignee_id == w.agent.pk
    assert presence.online_user_ids(w.org.pk, [w.agent.pk, w.manager.pk]) == {w.agent.pk}


def test_admins_when_the_setting_names_them(team):
    w = team
    turn_on(w.org, roles=[Role.ADMIN])
    online(w.org, w.admin)
    assert new(w.org).assignee_id == w.admin.pk


def test_nobody_outside_opening_hours_or_on_a_holiday(team):
    w = team
    open_all_week(w.org, is_open=False)
    assert new(w.org).assignee_id is None
    open_all_week(w.org)
    assert new(w.org).assignee_id is not None
    today = timezone.localdate(timezone.now(), ZoneInfo(w.org.time_zone))
    Holiday.objects.create(organization=w.org, date=today, name="Fermé")
    assert new(w.org).assignee_id is None


def test_a_hand_picked_assignee_an_import_or_an_automatic_ticket_is_left_alone(team):
    w = team
    assert new(w.org, assignee=w.admin, actor=w.admin).assignee_id == w.admin.pk
    assert new(w.org, imported=True).assignee_id is None
    assert new(w.org, automatic=True).assignee_id is None
    assert not AuditLog.objects.filter(organization=w.org, action="ticket.assigned").exists()


def test_a_creation_rule_overrides_it_and_an_agent_can_reassign(team):
    w = team
    rule(
        w.org,
        {"field": "subject", "op": "contains", "value": "facture"},
        actions=[{"type": "assign", "user": w.admin.pk}],
    )
    t = new(w.org, subject="Facture de mars")
    assert t.assignee_id == w.admin.pk
    assert Ticket.objects.get(pk=t.pk).assignee_id == w.admin.pk
    rows = list(AuditLog.objects.filter(organization=w.org, action="ticket.assigned", target_id=t.pk).order_by("id"))
    assert [r.data.get("reason") for r in rows] == ["availability", None]  # the step, then the rule over it
    other = new(w.org, subject="Autre")
    services.assign(ticket=other, assignee=w.admin, actor=acting(w.manager))
    assert Ticket.objects.get(pk=other.pk).assignee_id == w.admin.pk


def test_the_assignee_is_notified_and_the_history_says_so(
    team, client, queued_tasks, django_capture_on_commit_callbacks
):
    w = team
    load(w.org, w.manager, 1)
    with django_capture_on_commit_callbacks(execute=True):
        t = new(w.org, subject="Imprimante")
    run_queued(queued_tasks)
    assert Ticket.objects.get(pk=t.pk).assignee_id == w.agent.pk
    n = AgentNotification.objects.get(kind="assigned", recipient=w.agent)
    assert n.title == f"Ticket assigné : #{t.number} Imprimante"
    assert n.body == "Ce ticket vous a été assigné."
    row = AuditLog.objects.get(organization=w.org, action="ticket.assigned", target_id=t.pk)
    assert (row.actor, row.data["reason"], row.data["new"]) == (None, "availability", w.agent.pk)
    client.force_login(w.manager)
    html = client.get(f"/tickets/{t.number}/").content.decode()
    assert f"Attribué automatiquement à {w.agent.get_full_name()} (disponibilité)" in html


EMAIL = b"""From: Jeanne Martin <jeanne@example.com>
To: support@acme.test
Subject: Imprimante en panne
Message-ID: <avail-1@example.com>
Date: Mon, 10 Mar 2025 09:00:00 +0000
Content-Type: text/plain; charset=utf-8

Bonjour, plus rien ne sort.
"""


def test_every_channel_gets_it_email_and_api(team, client):
    w = team
    mailbox = Mailbox.objects.create(organization=w.org, name="Support", address="support@acme.test")
    inbound = intake.ingest(mailbox=mailbox, raw=EMAIL, source="file")
    by_mail = Ticket.objects.get(pk=inbound.ticket_id)
    assert by_mail.channel == "email" and by_mail.assignee_id in (w.agent.pk, w.manager.pk)

    on_plan(w.org)
    token = new_key(w.org, w.admin, Role.MANAGER)
    response = client.post(
        "/api/v1/tickets/",
        {"customer_email": "paul@example.com", "subject": "API", "body": "Créé par l'API."},
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 201, response.content
    by_api = Ticket.objects.get(organization=w.org, number=response.json()["number"])
    assert by_api.channel == "api" and by_api.assignee_id in (w.agent.pk, w.manager.pk)
    assert by_api.assignee_id != by_mail.assignee_id  # the fewest open tickets: the other one


def test_turn_pointer_is_kept_per_member(team):
    w = team
    t1 = new(w.org)
    services.change_status(ticket=t1, status=Status.RESOLVED, actor=SYSTEM)
    t2 = new(w.org)
    assert {t1.assignee_id, t2.assignee_id} == {w.agent.pk, w.manager.pk}
    turns = dict(AssignmentTurn.objects.filter(organization=w.org).values_list("user_id", "turn"))
    assert (turns[t1.assignee_id], turns[t2.assignee_id]) == (1, 2)
    assert Membership.objects.get(organization=w.org, user=w.agent).is_absent is False
