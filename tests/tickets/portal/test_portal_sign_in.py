"""Signing in to the customer portal by a one-time link: the same answer whether or not the address is a
customer's, hash-only storage, single use, 30 minutes, rate limits, a session of one customer in one
organization, separate from the agents' login."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from factories import CustomerFactory
from portal_helpers import patch_portal_tasks, run_portal_tasks, sign_in_as, sign_in_link_from, unique_ip

from crm.models import PortalSignInLink
from lumiodesk.models import AuditLog
from tickets.portal import services
from tickets.portal.access import SESSION_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def portal_tasks(monkeypatch):
    return patch_portal_tasks(monkeypatch)


@pytest.fixture(autouse=True)
def ip(client):
    client.defaults["REMOTE_ADDR"] = unique_ip()


def ask(client, org, email, **capture):
    return client.post(reverse("portal:sign_in_request", args=[org.slug]), {"email": email})


def request_link(client, world, portal_tasks, mailoutbox, capture) -> str:
    with capture(execute=True):
        ask(client, world.org, world.customer.email)
    run_portal_tasks(portal_tasks)
    return sign_in_link_from(mailoutbox[-1])


def test_portal_pages_need_a_signed_in_customer(client, world):
    url = reverse("portal:ticket", args=[world.org.slug, world.ticket.number])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == reverse("portal:sign_in_request", args=["acme"]) + "?next=" + url.replace("/", "%2F")


def test_htmx_request_without_session_redirects_the_whole_page(client, world):
    response = client.get(reverse("portal:tickets", args=[world.org.slug]), HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("portal:sign_in_request", args=["acme"]))


def test_an_agent_login_is_not_a_customer_session(client, world):
    client.force_login(world.agent)
    assert client.get(reverse("portal:tickets", args=[world.org.slug])).status_code == 302


def test_link_requested_emailed_and_used_once(client, world, portal_tasks, mailoutbox,
                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(client, world.org, "  Claire.Dupont@EXAMPLE.com ")
    assert response.status_code == 302
    assert response.url == reverse("portal:sign_in_sent", args=["acme"])
    assert "claire.dupont@example.com" in client.get(response.url).content.decode()

    link = PortalSignInLink.objects.get(customer=world.customer)
    assert link.expires_at - link.created_at == timedelta(minutes=30)
    # The task gets the token encrypted, never in clear.
    (name, (link_id, sealed)), = portal_tasks
    assert link_id == link.pk
    run_portal_tasks(portal_tasks)
    mail = mailoutbox[0]
    assert mail.to == [world.customer.email]
    url = sign_in_link_from(mail)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert token not in sealed
    # Only the hash is stored.
    assert link.token_hash == services.hash_token(token) and link.token_hash != token
    assert not PortalSignInLink.objects.filter(token_hash=token).exists()

    path = url.split("://", 1)[1].split("/", 1)[1]
    path = "/" + path
    page = client.get(path)  # GET does not spend it (mail scanners open links)
    assert page.status_code == 200 and "Bonjour Claire" in page.content.decode()
    link.refresh_from_db()
    assert link.used_at is None

    response = client.post(path)
    assert response.status_code == 302 and response.url == reverse("portal:tickets", args=["acme"])
    assert client.session[SESSION_KEY] == {str(world.org.pk): world.customer.pk}
    link.refresh_from_db()
    assert link.used_at is not None
    assert AuditLog.objects.filter(action="portal.signed_in", target_id=world.customer.pk).exists()
    assert "Facture en double" in client.get(response.url).content.decode()

    # Single use: a second click (another browser) is refused.
    other = client_class_new()
    assert other.post(path).status_code == 410
    assert SESSION_KEY not in other.session or not other.session[SESSION_KEY]


def client_class_new():
    from django.test import Client

    return Client(REMOTE_ADDR=unique_ip())


def test_unknown_address_gets_the_same_answer_and_no_email(client, world, portal_tasks,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        known = ask(client, world.org, world.customer.email)
    with django_capture_on_commit_callbacks(execute=True):
        unknown = ask(client, world.org, "personne@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url
    assert len(portal_tasks) == 1
    assert PortalSignInLink.objects.count() == 1


def test_a_customer_of_another_organization_gets_no_link_here(client, world, portal_tasks,
                                                             django_capture_on_commit_callbacks):
    globex = CustomerFactory(organization=world.other_org, email="g@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        ask(client, world.org, globex.email)
    assert portal_tasks == []


def test_expired_link_is_refused(client, world, clock, portal_tasks, mailoutbox, django_capture_on_commit_callbacks):
    url = request_link(client, world, portal_tasks, mailoutbox, django_capture_on_commit_callbacks)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    clock.advance(minutes=31)
    page = client.get(path)
    assert page.status_code == 410
    assert "plus valable" in page.content.decode()
    assert client.post(path).status_code == 410
    assert not client.session.get(SESSION_KEY)


def test_a_link_of_one_organization_does_not_open_another(client, world, portal_tasks, mailoutbox,
                                                           django_capture_on_commit_callbacks):
    url = request_link(client, world, portal_tasks, mailoutbox, django_capture_on_commit_callbacks)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert client.post(reverse("portal:sign_in", args=[world.other_org.slug, token])).status_code == 410
    assert client.post(reverse("portal:sign_in", args=[world.org.slug, "forged" + token])).status_code == 410


def test_email_not_sent_if_the_link_was_already_used_or_tampered(world, mailoutbox):
    from lumiodesk import crypto
    from tickets.portal.emails import send_sign_in_link

    link = services.request_sign_in_link(organization=world.org, email=world.customer.email)
    assert send_sign_in_link(link.pk, crypto.encrypt("not-the-token")) is False
    assert mailoutbox == []


def test_rate_limited_per_address(client, world, portal_tasks, django_capture_on_commit_callbacks):
    from tickets.portal.views import SIGN_IN_LIMITS_EMAIL

    for _ in range(SIGN_IN_LIMITS_EMAIL[0]):
        client.defaults["REMOTE_ADDR"] = unique_ip()
        with django_capture_on_commit_callbacks(execute=True):
            assert ask(client, world.org, world.customer.email).status_code == 302
    client.defaults["REMOTE_ADDR"] = unique_ip()
    response = ask(client, world.org, world.customer.email)
    assert response.status_code == 429
    assert "Trop de demandes" in response.content.decode()
    assert PortalSignInLink.objects.count() == SIGN_IN_LIMITS_EMAIL[0]
    # An unknown address is limited the same way (the limit says nothing about who is a customer).
    for _ in range(SIGN_IN_LIMITS_EMAIL[0]):
        client.defaults["REMOTE_ADDR"] = unique_ip()
        ask(client, world.org, "inconnu@example.com")
    client.defaults["REMOTE_ADDR"] = unique_ip()
    assert ask(client, world.org, "inconnu@example.com").status_code == 429


def test_rate_limited_per_ip(client, world):
    from tickets.portal.views import SIGN_IN_LIMITS_IP

    for i in range(SIGN_IN_LIMITS_IP[0]):
        assert ask(client, world.org, f"x{i}@example.com").status_code == 302
    assert ask(client, world.org, "y@example.com").status_code == 429


def test_invalid_email_is_shown_next_to_the_field(client, world):
    response = ask(client, world.org, "pas un email")
    assert response.status_code == 400
    assert 'id="id_email_error"' in response.content.decode()


def test_back_to_the_page_asked_before_signing_in(client, world, portal_tasks, mailoutbox,
                                                    django_capture_on_commit_callbacks):
    wanted = reverse("portal:ticket", args=[world.org.slug, world.ticket.number])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:sign_in_request", args=[world.org.slug]) + f"?next={wanted}",
                    {"email": world.customer.email, "next": wanted})
    run_portal_tasks(portal_tasks)
    path = "/" + sign_in_link_from(mailoutbox[-1]).split("://", 1)[1].split("/", 1)[1]
    response = client.post(path)
    assert response.url == wanted


def test_next_outside_the_portal_is_ignored(client, world, portal_tasks, mailoutbox,
                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:sign_in_request", args=[world.org.slug]),
                    {"email": world.customer.email, "next": "https://evil.example/portal/acme/"})
    run_portal_tasks(portal_tasks)
    path = "/" + sign_in_link_from(mailoutbox[-1]).split("://", 1)[1].split("/", 1)[1]
    assert client.post(path).url == reverse("portal:tickets", args=["acme"])


def test_sign_out_keeps_the_agent_login(client, world):
    client.force_login(world.agent)
    sign_in_as(client, world.customer)
    assert client.get(reverse("portal:tickets", args=[world.org.slug])).status_code == 200
    response = client.post(reverse("portal:sign_out", args=[world.org.slug]))
    assert response.status_code == 302
    assert client.get(reverse("portal:tickets", args=[world.org.slug])).status_code == 302
    assert client.get(reverse("tickets:list")).status_code == 200  # still an agent


def test_a_session_at_one_organization_is_nobody_at_another(client, world):
    sign_in_as(client, world.customer)
    assert client.get(reverse("portal:tickets", args=[world.other_org.slug])).status_code == 302
