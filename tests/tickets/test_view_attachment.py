"""GET /tickets/<number>/attachments/<token>/ — files served with a safe type, disposition and nosniff."""

import pytest
from django.urls import reverse
from factories import PDF, PNG, TicketFactory, upload
from helpers import assert_login_redirect, htmx

from tickets import services
from tickets.models import MessageKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def attach(ticket, name, content, claimed="application/octet-stream"):
    message = services.add_message(
        ticket=ticket, kind=MessageKind.CUSTOMER, body="Pièce jointe", attachments=[upload(name, content, claimed)]
    )
    att = message.attachments.get()
    return att, reverse("tickets:attachment", args=[ticket.number, att.token])


def body_of(response):
    return b"".join(response.streaming_content)


def test_anonymous_is_sent_to_login(client, world):
    _att, url = attach(world.ticket, "c.png", PNG)
    assert_login_redirect(client.get(url), url)


def test_another_organizations_file_is_404(client, world):
    _att, url = attach(world.other_ticket, "secret.pdf", PDF)
    client.force_login(world.admin)
    assert client.get(url).status_code == 404


def test_a_token_under_the_wrong_ticket_number_is_404(client, world):
    second = TicketFactory(organization=world.org)
    att, _url = attach(world.ticket, "c.png", PNG)
    client.force_login(world.agent)
    assert client.get(reverse("tickets:attachment", args=[second.number, att.token])).status_code == 404
    assert client.get(reverse("tickets:attachment", args=[1, "0" * 32])).status_code == 404


def test_viewer_may_download(client, world):
    _att, url = attach(world.ticket, "c.png", PNG)
    client.force_login(world.viewer)
    response = client.get(url)
    assert response.status_code == 200
    assert body_of(response) == PNG


def test_images_are_shown_inline_with_their_real_type_and_nosniff(client, world):
    _att, url = attach(world.ticket, "capture écran.png", PNG, claimed="text/html")
    client.force_login(world.agent)
    response = client.get(url)
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert "capture" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"].startswith("private")


def test_download_parameter_forces_attachment(client, world):
    _att, url = attach(world.ticket, "facture.pdf", PDF)
    client.force_login(world.agent)
    response = client.get(url, {"download": "1"})
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="facture.pdf"' in response["Content-Disposition"]


@pytest.mark.parametrize(
    "name, content, content_type",
    [
        ("export.csv", b"a,b\n1,2\n", "text/csv"),
        ("archive.zip", b"PK\x03\x04data", "application/zip"),
        ("message.eml", b"Subject: hi\n\n<script>alert(1)</script>", "message/rfc822"),
        ("data.json", b'{"a": "<script>"}', "application/json"),
    ],
)
def test_other_types_are_always_downloaded(client, world, name, content, content_type):
    _att, url = attach(world.ticket, name, content, claimed="text/html")
    client.force_login(world.agent)
    response = client.get(url)
    assert response["Content-Type"].split(";")[0] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_text_files_are_plain_text(client, world):
    _att, url = attach(world.ticket, "journal.log", b"<html><script>alert(1)</script></html>")
    client.force_login(world.agent)
    response = client.get(url)
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_htmx_request_gets_the_same_file(client, world):
    _att, url = attach(world.ticket, "c.png", PNG)
    client.force_login(world.agent)
    response = client.get(url, **htmx())
    assert response.status_code == 200
    assert body_of(response) == PNG


def test_post_is_not_allowed(client, world):
    _att, url = attach(world.ticket, "c.png", PNG)
    client.force_login(world.agent)
    assert client.post(url).status_code == 405
