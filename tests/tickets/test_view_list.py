"""GET /tickets/ — the console: counters, filters, search, the HTMX list partial."""

import pytest
from django.urls import reverse
from factories import CustomerFactory, TicketFactory, acting, bulk_tickets
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx

from tickets import services

pytestmark = pytest.mark.django_db

URL = reverse("tickets:list")


def test_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.get(URL), URL)


def test_root_redirects_to_the_list(client, world):
    client.force_login(world.agent)
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == URL


def test_only_the_current_organizations_tickets_are_listed(client, world):
    client.force_login(world.agent)
    response = client.get(URL)
    assert response.status_code == 200
    html = assert_full_page(response)
    assert "Facture en double" in html
    assert "Globex secret" not in html
    assert [t.pk for t in response.context["tickets"]] == [world.ticket.pk]
    assert response.context["counts"]["total"] == 1


def test_the_outsider_sees_only_theirs(client, world):
    client.force_login(world.outsider)
    html = client.get(URL).content.decode()
    assert "Globex secret" in html
    assert "Facture en double" not in html


def test_viewer_reads_the_list_without_write_controls(client, world):
    client.force_login(world.viewer)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Facture en double" in html
    assert reverse("tickets:create") not in html
    assert response.context["can"].tickets_create is False


def test_agent_gets_the_new_ticket_button(client, world):
    client.force_login(world.agent)
    assert reverse("tickets:create") in client.get(URL).content.decode()


def test_urgent_tickets_are_listed_first(client, world):
    urgent = TicketFactory(organization=world.org, subject="Serveur en panne", priority="urgent")
    later = TicketFactory(organization=world.org, subject="Question simple")
    client.force_login(world.agent)
    response = client.get(URL, {"sort": "created"})
    assert [t.pk for t in response.context["tickets"]] == [urgent.pk, world.ticket.pk, later.pk]
    html = response.content.decode()
    assert html.index("Serveur en panne") < html.index("Facture en double") < html.index("Question simple")


def test_htmx_search_returns_only_the_list_partial(client, world):
    bob = CustomerFactory(organization=world.org, first_name="Bob", email="bob@boulangerie.fr")
    TicketFactory(organization=world.org, customer=bob, subject="Imprimante hors service")
    client.force_login(world.agent)
    response = client.get(URL, {"q": "boulangerie"}, **htmx("ticket-list"))
    assert response.status_code == 200
    html = assert_partial(response)
    assert html.lstrip().startswith('<div id="ticket-list">')
    assert "Imprimante hors service" in html
    assert "Facture en double" not in html
    assert 'class="counters"' not in html


def test_htmx_request_for_another_target_gets_the_page(client, world):
    client.force_login(world.agent)
    assert_full_page(client.get(URL, **htmx("something-else")))


def test_search_by_message_text_name_and_email(client, world):
    client.force_login(world.viewer)
    for q in ("mars", "dupont", "claire.dupont@example.com", "Claire"):
        response = client.get(URL, {"q": q}, **htmx("ticket-list"))
        assert "Facture en double" in response.content.decode(), q
    response = client.get(URL, {"q": "globex"}, **htmx("ticket-list"))
    assert "Globex secret" not in response.content.decode()
    assert "Aucun ticket ne correspond" in response.content.decode()


def test_unknown_filters_are_ignored_with_a_warning(client, world):
    client.force_login(world.agent)
    response = client.get(URL, {"status": "archived"})
    assert response.status_code == 200
    assert "Filtre inconnu ignoré : archived" in response.content.decode()
    assert [t.pk for t in response.context["tickets"]] == [world.ticket.pk]


def test_counters_and_status_filter(client, world):
    TicketFactory(organization=world.org)
    services.change_status(ticket=world.ticket, status="resolved", actor=acting(world.agent))
    client.force_login(world.agent)
    response = client.get(URL, {"status": "resolved"})
    counts = response.context["counts"]
    assert (counts["total"], counts["new"], counts["resolved"]) == (2, 1, 1)
    assert [t.pk for t in response.context["tickets"]] == [world.ticket.pk]


def test_pagination(client, world):
    bulk_tickets(world.org, 30)
    client.force_login(world.agent)
    first = client.get(URL)
    assert len(first.context["tickets"]) == 25
    second = client.get(URL, {"page": 2}, **htmx("ticket-list"))
    html = assert_partial(second)
    assert html.count('class="t-num"') == 6
    assert "Page 2 sur 2" in html


def test_saved_views_are_listed_for_everybody_and_deletable_by_managers(client, world):
    view = services.save_view(
        organization=world.org, name="Urgences", filters={"priority": "urgent"}, actor=acting(world.manager)
    )
    client.force_login(world.agent)
    html = client.get(URL).content.decode()
    assert "Urgences" in html
    assert reverse("tickets:view_delete", args=[view.pk]) not in html
    client.force_login(world.manager)
    assert reverse("tickets:view_delete", args=[view.pk]) in client.get(URL).content.decode()


def test_post_is_not_allowed(client, world):
    client.force_login(world.agent)
    assert client.post(URL).status_code == 405
