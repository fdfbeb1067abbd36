"""Settings > Assignment (Managers read, Admins change), the console's presence heartbeat and the "Absent"
toggle: anonymous, roles, HTMX, and the same query count for a small and a large team."""

from __future__ import annotations

import pytest
from assignment_helpers import online, open_all_week, turn_on
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import TicketFactory, acting, member
from helpers import assert_login_redirect, assert_partial, htmx

from lumiodesk import presence
from lumiodesk.models import AuditLog, Membership, Role
from tickets.assignment.models import AutoAssignment

pytestmark = pytest.mark.django_db
SETTINGS = reverse("assignment:settings")
HEARTBEAT = reverse("assignment:heartbeat")
ABSENT = reverse("assignment:absent")


def as_(client, user):
    client.force_login(user)
    return client


def test_anonymous_goes_to_the_login_page(client, world):
    assert_login_redirect(client.get(SETTINGS), SETTINGS)
    assert_login_redirect(client.get(HEARTBEAT), HEARTBEAT)


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_may_not_see_the_settings(client, world, role):
    assert as_(client, getattr(world, role)).get(SETTINGS).status_code == 403


def test_managers_read_who_is_available_and_their_load(client, world):
    open_all_week(world.org)
    turn_on(world.org, load_limit=3)
    online(world.org, world.agent)
    TicketFactory(organization=world.org, assignee=world.agent)
    presence.set_absent(actor=acting(world.manager), absent=True)
    html = as_(client, world.manager).get(SETTINGS).content.decode()
    assert "Active : le prochain ticket ira à" in html and world.agent.get_full_name() in html
    assert "1 / 3" in html and "Absent" in html
    assert 'id="assignment-form"' not in html  # Admins change it
    assert (
        as_(client, world.manager).post(SETTINGS, {"enabled": "on", "load_limit": "5", "roles": ["agent"]}).status_code
        == 403
    )
    assert AutoAssignment.objects.get(organization=world.org).load_limit == 3


def test_an_admin_turns_it_on_with_a_limit_and_roles(client, world):
    html = as_(client, world.admin).get(SETTINGS).content.decode()
    assert "Désactivée" in html and 'id="assignment-form"' in html
    response = client.post(SETTINGS, {"enabled": "on", "load_limit": "12", "roles": ["agent", "admin"]})
    assert response.status_code == 302
    setting = AutoAssignment.objects.get(organization=world.org)
    assert (setting.enabled, setting.load_limit, setting.roles) == (True, 12, ["agent", "admin"])
    row = AuditLog.objects.get(organization=world.org, action="assignment.settings")
    assert row.actor == world.admin and row.data["after"]["load_limit"] == 12


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"enabled": "on", "load_limit": "0", "roles": ["agent"]}, "La charge maximale"),
        ({"enabled": "on", "load_limit": "²", "roles": ["agent"]}, "La charge maximale"),
        ({"enabled": "on", "load_limit": "5"}, "au moins un rôle"),
    ],
)
def test_bad_input_is_refused_and_said(client, world, data, error):
    response = as_(client, world.admin).post(SETTINGS, data)
    assert response.status_code == 400 and error in response.content.decode()
    assert not AutoAssignment.objects.filter(organization=world.org).exists()


def _settings_queries(client, world, n: int) -> list[str]:
    for i in range(n):
        user = member(world.org, Role.AGENT, first_name=f"Agent{i}")
        online(world.org, user)
        TicketFactory(organization=world.org, assignee=user)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(SETTINGS).status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


def test_the_settings_page_costs_the_same_queries_for_3_and_30_members(client, world):
    open_all_week(world.org)
    turn_on(world.org)
    as_(client, world.admin).get(SETTINGS)  # the session's first request writes it
    few = _settings_queries(client, world, 1)
    many = _settings_queries(client, world, 27)
    assert len(few) == len(many), "\n".join(many)


def test_the_heartbeat_marks_the_member_online_and_shows_their_state(client, world):
    open_all_week(world.org)
    as_(client, world.agent)
    html = assert_partial(client.get(HEARTBEAT, **htmx("presence")))
    assert presence.is_online(world.org.pk, world.agent.pk)
    assert "En ligne" in html and "Me déclarer absent" in html  # the setting is off
    turn_on(world.org, load_limit=4)
    html = client.get(HEARTBEAT, **htmx("presence")).content.decode()
    assert "Disponible · 0/4" in html
    open_all_week(world.org, is_open=False)
    assert "Hors horaires" in client.get(HEARTBEAT, **htmx("presence")).content.decode()


def test_a_viewer_beats_but_has_no_toggle(client, world):
    html = as_(client, world.viewer).get(HEARTBEAT, **htmx("presence")).content.decode()
    assert presence.is_online(world.org.pk, world.viewer.pk)
    assert "Me déclarer absent" not in html
    assert client.post(ABSENT, {"absent": "1"}).status_code == 403


def test_an_agent_marks_themselves_absent_and_back(client, world):
    as_(client, world.agent)
    html = assert_partial(client.post(ABSENT, {"absent": "1"}, **htmx("presence")))
    assert "Absent" in html and "Je suis de retour" in html
    assert Membership.objects.get(organization=world.org, user=world.agent).is_absent
    response = client.post(ABSENT, {"absent": "0", "next": "/tickets/"})
    assert response.status_code == 302 and response["Location"] == "/tickets/"
    assert not Membership.objects.get(organization=world.org, user=world.agent).is_absent
    evil = client.post(ABSENT, {"absent": "1", "next": "https://evil.example/"})
    assert evil["Location"] == reverse("tickets:list")
    assert AuditLog.objects.filter(organization=world.org, action="member.absent").count() == 3


def test_the_console_asks_the_heartbeat_and_the_menu_links_the_page(client, world):
    html = as_(client, world.admin).get(reverse("tickets:list")).content.decode()
    assert f'hx-get="{HEARTBEAT}"' in html and SETTINGS in html
    assert SETTINGS not in as_(client, world.agent).get(reverse("tickets:list")).content.decode()
    # a Viewer is never assigned a ticket: their console does not beat (their presence was never read)
    assert HEARTBEAT not in as_(client, world.viewer).get(reverse("tickets:list")).content.decode()
