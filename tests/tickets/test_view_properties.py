"""POST /tickets/<number>/status/, /priority/, /assign/, /tags/ — the quick controls of the ticket page."""

import pytest
from django.urls import reverse
from helpers import assert_login_redirect, assert_partial, htmx

from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db

# view name, a valid POST, how to read the changed value back
ACTIONS = {
    "status": ({"status": "waiting_internal"}, lambda t: t.status, "waiting_internal"),
    "priority": ({"priority": "urgent"}, lambda t: t.priority, "urgent"),
    "assign": ({"assignee": "AGENT"}, lambda t: t.assignee_id, "AGENT"),
    "tags": (
        {"tags": "Facturation, remboursement"},
        lambda t: sorted(x.name for x in t.tags.all()),
        ["facturation", "remboursement"],
    ),
}


def _resolve(world, value):
    if value == "AGENT":
        return world.agent.pk
    return value


def _post_data(world, data):
    return {k: str(_resolve(world, v)) for k, v in data.items()}


def _read(world, name, ticket):
    return ACTIONS[name][1](Ticket.objects.get(pk=ticket.pk))


@pytest.fixture(params=list(ACTIONS))
def action(request):
    return request.param


def test_anonymous_is_sent_to_login(client, world, action):
    url = reverse(f"tickets:{action}", args=[1])
    before = _read(world, action, world.ticket)
    assert_login_redirect(client.post(url, _post_data(world, ACTIONS[action][0])), url)
    assert _read(world, action, world.ticket) == before


def test_another_organizations_ticket_is_404(client, world, action):
    before = _read(world, action, world.other_ticket)
    client.force_login(world.admin)
    url = reverse(f"tickets:{action}", args=[world.other_ticket.number])
    assert client.post(url, _post_data(world, ACTIONS[action][0])).status_code == 404
    assert _read(world, action, world.other_ticket) == before


def test_viewer_is_refused(client, world, action):
    before = _read(world, action, world.ticket)
    client.force_login(world.viewer)
    url = reverse(f"tickets:{action}", args=[1])
    assert client.post(url, _post_data(world, ACTIONS[action][0])).status_code == 403
    assert client.post(url, _post_data(world, ACTIONS[action][0]), **htmx()).status_code == 403
    assert _read(world, action, world.ticket) == before


def test_get_is_not_allowed(client, world, action):
    client.force_login(world.agent)
    assert client.get(reverse(f"tickets:{action}", args=[1])).status_code == 405


def test_agent_changes_it_and_is_redirected(client, world, action):
    data, _read_back, expected = ACTIONS[action]
    client.force_login(world.agent)
    response = client.post(reverse(f"tickets:{action}", args=[1]), _post_data(world, data))
    assert response.status_code == 302
    assert response.url == reverse("tickets:detail", args=[1])
    assert _read(world, action, world.ticket) == _resolve(world, expected)


def test_htmx_answers_out_of_band_partials_with_the_change(client, world, action):
    data, _read_back, expected = ACTIONS[action]
    client.force_login(world.agent)
    response = client.post(reverse(f"tickets:{action}", args=[1]), _post_data(world, data), **htmx())
    assert response.status_code == 200
    html = assert_partial(response)
    for part in ('id="ticket-header"', 'id="properties"', 'id="timeline"', 'id="flash"'):
        assert part in html
    assert html.count('hx-swap-oob="true"') == 4
    shown = {
        "status": "En attente interne",
        "priority": "Urgente",
        "assign": "a assigné le ticket à Agathe",
        "tags": "remboursement",
    }[action]
    assert shown in html
    assert _read(world, action, world.ticket) == _resolve(world, expected)


def test_forbidden_status_change_is_a_409_flash_for_htmx(client, world):
    client.force_login(world.agent)
    client.post(reverse("tickets:status", args=[1]), {"status": "resolved"})
    response = client.post(reverse("tickets:status", args=[1]), {"status": "waiting_customer"}, **htmx())
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#flash"
    assert "non autorisé" in assert_partial(response)
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.RESOLVED


def test_forbidden_status_change_is_a_flash_message_without_htmx(client, world):
    client.force_login(world.agent)
    client.post(reverse("tickets:status", args=[1]), {"status": "closed"})
    response = client.post(reverse("tickets:status", args=[1]), {"status": "resolved"}, follow=True)
    assert response.status_code == 200
    assert "non autorisé" in response.content.decode()
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.CLOSED


@pytest.mark.parametrize(
    "action, data",
    [("status", {"status": "archived"}), ("status", {}), ("priority", {"priority": "critical"}), ("priority", {})],
)
def test_unknown_values_are_refused(client, world, action, data):
    client.force_login(world.agent)
    response = client.post(reverse(f"tickets:{action}", args=[1]), data, **htmx())
    assert response.status_code == 400
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert (ticket.status, ticket.priority) == ("new", "normal")


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_cannot_assign_to_someone_outside_the_team(client, world, who):
    client.force_login(world.agent)
    response = client.post(reverse("tickets:assign", args=[1]), {"assignee": str(getattr(world, who).pk)}, **htmx())
    assert response.status_code == 400
    assert "ne fait pas partie de l" in response.content.decode()
    assert Ticket.objects.get(pk=world.ticket.pk).assignee is None


def test_unassign(client, world):
    client.force_login(world.agent)
    client.post(reverse("tickets:assign", args=[1]), {"assignee": str(world.agent.pk)})
    client.post(reverse("tickets:assign", args=[1]), {"assignee": ""})
    assert Ticket.objects.get(pk=world.ticket.pk).assignee is None


def test_status_change_from_the_page_notifies_the_customer(
    client, world, queued_emails, django_capture_on_commit_callbacks
):
    client.force_login(world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tickets:status", args=[1]), {"status": "resolved"}, **htmx())
    assert "Ticket de support : Résolu" in response.content.decode()
    assert len(queued_emails) == 1
