"""POST /tickets/<number>/reply/ — public reply or internal note, with attachments and a next status."""

import pytest
from django.urls import reverse
from factories import PNG, upload
from helpers import assert_login_redirect, assert_partial, htmx

from tickets.models import Attachment, CustomerNotification, Message, Status, Ticket

pytestmark = pytest.mark.django_db


def url(number=1):
    return reverse("tickets:reply", args=[number])


def messages_of(ticket):
    return list(Message.objects.filter(ticket=ticket).order_by("created_at", "id").values_list("kind", "body_text"))


def test_anonymous_is_sent_to_login(client, world):
    assert_login_redirect(client.post(url(), {"kind": "reply", "body": "Salut"}), url())
    assert len(messages_of(world.ticket)) == 1


def test_another_organizations_ticket_is_404(client, world):
    client.force_login(world.agent)
    assert client.post(url(world.other_ticket.number), {"kind": "reply", "body": "Intrus"}).status_code == 404
    assert len(messages_of(world.other_ticket)) == 1


def test_viewer_is_refused(client, world):
    client.force_login(world.viewer)
    assert client.post(url(), {"kind": "reply", "body": "Non"}).status_code == 403
    assert client.post(url(), {"kind": "note", "body": "Non"}, **htmx()).status_code == 403
    assert len(messages_of(world.ticket)) == 1


def test_get_is_not_allowed(client, world):
    client.force_login(world.agent)
    assert client.get(url()).status_code == 405


def test_agent_replies_and_the_ticket_opens(client, world, queued_emails, django_capture_on_commit_callbacks):
    client.force_login(world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(), {"kind": "reply", "body": "Nous remboursons le doublon."})
    assert response.status_code == 302
    assert response.url == reverse("tickets:detail", args=[1])
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.OPEN
    assert ticket.first_response_at is not None
    assert messages_of(ticket)[-1] == ("reply", "Nous remboursons le doublon.")
    [notification] = CustomerNotification.objects.filter(ticket=ticket)
    assert queued_emails == [notification.pk]
    assert "Réponse envoyée." in client.get(response.url).content.decode()


def test_internal_note_is_not_sent_to_the_customer(client, world, queued_emails, django_capture_on_commit_callbacks):
    client.force_login(world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(), {"kind": "note", "body": "Client fidèle, geste commercial ok."})
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.NEW
    assert messages_of(ticket)[-1] == ("note", "Client fidèle, geste commercial ok.")
    assert not CustomerNotification.objects.exists()
    assert queued_emails == []


def test_htmx_reply_returns_the_ticket_partial_with_the_new_message(client, world):
    client.force_login(world.agent)
    response = client.post(
        url(), {"kind": "reply", "body": "Réponse via HTMX", "then_status": "waiting_customer"}, **htmx("ticket")
    )
    assert response.status_code == 200
    html = assert_partial(response)
    assert html.lstrip().startswith('<div id="ticket">')
    assert "Réponse via HTMX" in html
    assert "En attente client" in html
    assert "Ticket de support : Nouvelle réponse" in html
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.WAITING_CUSTOMER


def test_empty_reply_is_refused(client, world):
    client.force_login(world.agent)
    response = client.post(url(), {"kind": "reply", "body": "  "})
    assert response.status_code == 302
    assert "Le message est vide." in client.get(response.url).content.decode()
    response = client.post(url(), {"kind": "reply", "body": ""}, **htmx())
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#flash"
    assert "Le message est vide." in assert_partial(response)
    assert len(messages_of(world.ticket)) == 1


def test_unknown_kind_is_refused(client, world):
    client.force_login(world.agent)
    response = client.post(url(), {"kind": "customer", "body": "Je me fais passer pour le client"}, **htmx())
    assert response.status_code == 400
    assert len(messages_of(world.ticket)) == 1


def test_forbidden_next_status_leaves_no_message(client, world):
    client.force_login(world.agent)
    client.post(reverse("tickets:status", args=[1]), {"status": "closed"})
    response = client.post(url(), {"kind": "reply", "body": "Et hop", "then_status": "waiting_customer"}, **htmx())
    assert response.status_code == 409
    assert "non autorisé" in assert_partial(response)
    assert len(messages_of(world.ticket)) == 1
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.CLOSED


def test_reply_with_attachment(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.agent)
    response = client.post(
        url(), {"kind": "reply", "body": "Voir capture", "attachments": [upload("c.png", PNG)]}, **htmx()
    )
    att = Attachment.objects.get()
    assert att.message.ticket_id == world.ticket.pk
    assert reverse("tickets:attachment", args=[1, att.token]) in response.content.decode()


def test_a_refused_attachment_leaves_no_message(
    client, world, settings, tmp_path, queued_emails, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    settings.ATTACHMENT_MAX_BYTES = 50
    client.force_login(world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(), {"kind": "reply", "body": "Gros fichier", "attachments": [upload("gros.txt", b"x" * 51)]}, **htmx()
        )
    assert response.status_code == 400
    assert "Fichier trop volumineux" in assert_partial(response)
    assert len(messages_of(world.ticket)) == 1
    assert Attachment.objects.count() == 0
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.NEW
    assert queued_emails == []
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
