"""An HTMX request without a session is sent to the login page as a whole page."""

from __future__ import annotations

from django.urls import reverse
from helpers import htmx


def test_anonymous_htmx_request_gets_a_full_page_redirect(client, db):
    response = client.get(reverse("tickets:list"), **htmx("ticket-list"))
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_anonymous_plain_request_keeps_the_302(client, db):
    response = client.get(reverse("tickets:list"))
    assert response.status_code == 302
    assert "HX-Redirect" not in response
