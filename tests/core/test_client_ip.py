"""The client's address behind 0, 1 or 2 proxies of our own (TRUSTED_PROXY_COUNT), and a forged
X-Forwarded-For: the one helper every rate limit and every recorded address goes through."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse
from portal_helpers import patch_portal_tasks, unique_ip

from lumiodesk.config import read_config
from lumiodesk.ratelimit import client_ip
from tickets.portal.models import PortalSignInLink

rf = RequestFactory()


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return rf.get("/", **extra)


def test_no_proxy_uses_remote_addr_and_ignores_the_header(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request("198.51.100.7", "1.2.3.4")) == "198.51.100.7"
    assert client_ip(_request("198.51.100.7")) == "198.51.100.7"
    assert client_ip(_request("")) == "unknown"


def test_one_proxy_takes_the_address_the_proxy_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The load balancer (10.0.0.2) appended the address it received the request from.
    assert client_ip(_request("10.0.0.2", "203.0.113.9")) == "203.0.113.9"


def test_two_proxies_take_the_second_address_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    # CDN appended the client (203.0.113.9); the load balancer appended the CDN (192.0.2.1).
    assert client_ip(_request("10.0.0.2", "203.0.113.9, 192.0.2.1")) == "203.0.113.9"


@pytest.mark.parametrize("proxies, forwarded, expected", [
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
    (1, "127.0.0.1,203.0.113.9", "203.0.113.9"),
    (2, "6.6.6.6, 7.7.7.7, 203.0.113.9, 192.0.2.1", "203.0.113.9"),
])
def test_a_forged_leftmost_entry_is_ignored(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_request("10.0.0.2", forwarded)) == expected


@pytest.mark.parametrize("forwarded", [None, "", "not-an-address", " , "])
def test_a_missing_short_or_malformed_chain_falls_back_to_remote_addr(settings, forwarded):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request("10.0.0.2", forwarded)) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request("10.0.0.2", "203.0.113.9")) == "10.0.0.2"  # shorter than 2: bypassed a proxy


def test_ports_and_ipv6_are_normalized(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("10.0.0.2", "203.0.113.9:51234")) == "203.0.113.9"
    assert client_ip(_request("10.0.0.2", "[2001:DB8::1]:443")) == "2001:db8::1"
    assert client_ip(_request("10.0.0.2", "2001:db8:0:0::1")) == "2001:db8::1"


def test_the_setting_is_read_and_checked(tmp_path, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    assert read_config(tmp_path).trusted_proxy_count == 0
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "2")
    assert read_config(tmp_path).trusted_proxy_count == 2
    for bad in ("-1", "two"):
        monkeypatch.setenv("TRUSTED_PROXY_COUNT", bad)
        with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXY_COUNT"):
            read_config(tmp_path)


@pytest.mark.django_db
def test_behind_a_load_balancer_a_forged_header_does_not_escape_the_contact_form_limit(client, world, settings,
                                                                                      monkeypatch):
    """Every visitor comes from the load balancer's address; the limit follows the real client, and
    writing another leftmost X-Forwarded-For entry on each request does not give a fresh bucket."""
    from tickets.portal.contact_views import IP_LIMITS

    patch_portal_tasks(monkeypatch)
    settings.TRUSTED_PROXY_COUNT = 1
    balancer, attacker, neighbour = unique_ip(), unique_ip(), unique_ip()
    client.defaults["REMOTE_ADDR"] = balancer
    url = reverse("contact:form", args=[world.org.slug])
    limit = min(n for n, _window in IP_LIMITS)

    def post(i: int, real: str):
        data = {"name": "A", "email": f"a{i}-{real}@example.com", "subject": f"S {i}", "message": "m", "website": ""}
        return client.post(url, data, HTTP_X_FORWARDED_FOR=f"{unique_ip()}, {real}")

    for i in range(limit):
        assert post(i, attacker).status_code == 302
    assert post(limit, attacker).status_code == 429  # a new forged leftmost entry each time: still refused
    assert post(limit + 1, neighbour).status_code == 302  # another visitor behind the same balancer: own bucket


@pytest.mark.django_db
def test_a_sign_in_link_records_the_real_client(client, world, settings, monkeypatch):
    patch_portal_tasks(monkeypatch)
    settings.TRUSTED_PROXY_COUNT = 1
    real = unique_ip()
    client.defaults["REMOTE_ADDR"] = unique_ip()
    client.post(reverse("portal:sign_in_request", args=[world.org.slug]), {"email": world.customer.email},
                HTTP_X_FORWARDED_FOR=f"6.6.6.6, {real}")
    link = PortalSignInLink.objects.filter(customer=world.customer).latest("pk")
    assert link.requested_ip == real
