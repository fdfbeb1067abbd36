"""Assertions shared by the view tests."""

from __future__ import annotations

from urllib.parse import quote

from django.urls import reverse

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str | None = None) -> dict[str, str]:
    headers = dict(HTMX)
    if target:
        headers["HTTP_HX_TARGET"] = target
    return headers


def assert_login_redirect(response, url: str) -> None:
    """Sent to the login page, coming back to ``url`` (and its query string, if any) afterwards."""
    assert response.status_code == 302, response.status_code
    assert response.url.startswith(f"{reverse('login')}?next={quote(url)}"), response.url


def assert_partial(response) -> str:
    """An HTMX answer: a fragment, not a whole page."""
    html = response.content.decode()
    assert "<html" not in html.lower(), "HTMX response should be a partial, got a full page"
    assert "<body" not in html.lower()
    return html


def assert_full_page(response) -> str:
    html = response.content.decode()
    assert "<html" in html.lower()
    return html
