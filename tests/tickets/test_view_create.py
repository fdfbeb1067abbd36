"""GET/POST /tickets/new/ — an agent opens a ticket for a customer."""

import pytest
from django.urls import reverse
from factories import PNG, upload
from helpers import assert_login_redirect

from crm.models import Customer
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

URL = reverse("tickets:create")


def form(**overrides):
    data = {
        "customer_email": "nouveau@example.com",
        "customer_name": "Nina Nouveau",
        "subject": "Commande perdue",
        "body": "Ma commande n'est jamais arrivée.",
        "priority": "high",
        "assignee": "",
        "tags": "livraison, VIP",
    }
    data.update(overrides)
    return data


def test_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.get(URL), URL)
    assert_login_redirect(client.post(URL, form()), URL)
    assert not Ticket.objects.filter(subject="Commande perdue").exists()


def test_viewer_is_refused(client, world):
    client.force_login(world.viewer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, form()).status_code == 403
    assert not Ticket.objects.filter(subject="Commande perdue").exists()


def test_agent_gets_the_form(client, world):
    client.force_login(world.agent)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="customer_email"' in html
    assert "Agathe" in html  # the team in the assignee choices
    assert "Otto" not in html  # not the other organization's


def test_agent_creates_a_ticket_for_a_new_customer(client, world):
    client.force_login(world.agent)
    response = client.post(URL, form(assignee=str(world.manager.pk)))
    ticket = Ticket.objects.get(organization=world.org, subject="Commande perdue")
    assert response.status_code == 302
    assert response.url == reverse("tickets:detail", args=[ticket.number])
    assert ticket.number == 2
    assert (ticket.priority, ticket.assignee, ticket.status) == ("high", world.manager, "new")
    assert ticket.customer.email == "nouveau@example.com"
    assert ticket.customer.organization == world.org
    assert sorted(t.name for t in ticket.tags.all()) == ["livraison", "vip"]
    assert ticket.messages.get().body_text == "Ma commande n'est jamais arrivée."
    page = client.get(response.url)
    assert "Ticket #2 créé." in page.content.decode()


def test_an_existing_customer_is_reused(client, world):
    client.force_login(world.agent)
    client.post(URL, form(customer_email="CLAIRE.DUPONT@example.com"))
    ticket = Ticket.objects.get(subject="Commande perdue")
    assert ticket.customer == world.customer


def test_an_assignee_from_another_organization_is_refused(client, world):
    client.force_login(world.agent)
    response = client.post(URL, form(assignee=str(world.outsider.pk)))
    assert response.status_code == 400
    assert not Ticket.objects.filter(subject="Commande perdue").exists()


@pytest.mark.parametrize(
    "field, value", [("subject", "   "), ("customer_email", "pas-un-email"), ("body", ""), ("priority", "critical")]
)
def test_invalid_form_is_shown_again(client, world, field, value):
    client.force_login(world.agent)
    response = client.post(URL, form(**{field: value}))
    assert response.status_code == 400
    assert 'name="customer_email"' in response.content.decode()
    assert not Ticket.objects.filter(organization=world.org).exclude(pk=world.ticket.pk).exists()


def test_a_refused_attachment_leaves_no_ticket_and_no_customer(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.agent)
    response = client.post(URL, {**form(), "attachments": [upload("ok.png", PNG), upload("payload.svg", b"<svg/>")]})
    assert response.status_code == 400
    assert "Type de fichier refusé : payload.svg" in response.content.decode()
    assert not Ticket.objects.filter(subject="Commande perdue").exists()
    assert not Customer.objects.filter(email="nouveau@example.com").exists()
    assert Attachment.objects.count() == 0
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_attachments_are_saved(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.agent)
    client.post(URL, {**form(), "attachments": [upload("photo.png", PNG)]})
    ticket = Ticket.objects.get(subject="Commande perdue")
    assert ticket.messages.get().attachments.get().filename == "photo.png"


def test_htmx_post_is_handled_like_a_form_post(client, world):
    client.force_login(world.agent)
    response = client.post(URL, form(), HTTP_HX_REQUEST="true")
    assert response.status_code == 302
    assert Ticket.objects.filter(subject="Commande perdue").exists()
