"""Settings > Webhooks: who may, Business and Scale only, the endpoint page (secret, documentation, test
button, delivery log with every attempt), HTMX variants and query counts."""

from __future__ import annotations

import pytest
from automation_helpers import Receiver, drain, queued_deliveries
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import OrganizationFactory, acting, member
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx

from automations import services
from automations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from lumiodesk.crypto import decrypt
from lumiodesk.models import Plan, Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)  # the receiver listens on loopback
LIST = reverse("automations:webhooks")


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def business(world):
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])
    return world


@pytest.fixture
def endpoint(business, receiver):
    endpoint, _secret = services.create_endpoint(organization=business.org, actor=acting(business.admin),
                                                 url=receiver.url,
                                                 events=["ticket.created"])
    return endpoint


def urls(pk: int) -> dict[str, str]:
    return {name: reverse(f"automations:webhook_{name}", args=[pk])
            for name in ("detail", "deliveries", "test", "toggle", "rotate", "delete")}


def test_anonymous_is_sent_to_login(client, endpoint):
    for name, url in urls(endpoint.pk).items():
        response = client.get(url) if name in ("detail", "deliveries") else client.post(url)
        assert_login_redirect(response, url)
    assert_login_redirect(client.get(LIST), LIST)


@pytest.mark.parametrize("who", ["agent", "viewer"])
def test_agents_and_viewers_are_refused(client, business, endpoint, who):
    client.force_login(getattr(business, who))
    assert client.get(LIST).status_code == 403
    assert client.post(LIST, {"url": "https://hooks.example/x"}).status_code == 403
    for name, url in urls(endpoint.pk).items():
        response = client.get(url) if name in ("detail", "deliveries") else client.post(url, {"active": "0"})
        assert response.status_code == 403, name
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists()


def test_another_organizations_endpoint_is_not_found(client, business, endpoint):
    client.force_login(member(business.other_org, Role.ADMIN))
    for name, url in urls(endpoint.pk).items():
        response = client.get(url) if name in ("detail", "deliveries") else client.post(url, {"active": "0"})
        assert response.status_code == 404, name
    assert receiver_url_not_in(client.get(LIST), endpoint.url)


def receiver_url_not_in(response, url: str) -> bool:
    return url not in response.content.decode()


def test_starter_sees_why_and_cannot_add(client, world):
    client.force_login(world.admin)
    html = assert_full_page(client.get(LIST))
    assert "pas inclus dans le forfait Starter (disponible sur : Business, Scale)." in html
    assert "Ajouter un endpoint" not in html
    response = client.post(LIST, {"url": "https://hooks.example/x", "events": ["ticket.created"]})
    assert response.status_code == 402
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_adding_an_endpoint(client, business, who):
    client.force_login(getattr(business, who))
    html = assert_full_page(client.get(LIST))
    assert "Ajouter un endpoint" in html and "X-LumioDesk-Signature" in html
    response = client.post(LIST, {"url": "https://hooks.example/lumio", "description": "CRM",
                                  "events": ["ticket.created", "ticket.resolved"]})
    endpoint = WebhookEndpoint.objects.get(organization=business.org)
    assert response.status_code == 302 and response.url == reverse("automations:webhook_detail", args=[endpoint.pk])
    assert endpoint.events == ["ticket.created", "ticket.resolved"]
    page = assert_full_page(client.get(response.url))
    assert decrypt(endpoint.secret_encrypted) in page  # shown on demand (a <details>)
    assert "def verify_lumiodesk_signature" in page and "X-LumioDesk-Timestamp" in page
    assert "1 min, 5 min, 30 min, 2 h, 6 h, 15 h" in page
    assert "Aucun envoi pour l'instant" in page


def test_an_invalid_url_is_refused(client, business):
    client.force_login(business.admin)
    response = client.post(LIST, {"url": "ftp://hooks.example/x", "events": ["ticket.created"]})
    assert response.status_code == 400
    assert "https://" in response.content.decode()


def test_send_a_test_event_and_read_the_log(client, business, endpoint, receiver, monkeypatch,
                                            django_capture_on_commit_callbacks):
    queued = queued_deliveries(monkeypatch)
    client.force_login(business.manager)
    receiver.responses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(urls(endpoint.pk)["test"], **htmx())
    html = assert_partial(response)
    assert 'id="endpoint-state" class="panel auto-state" hx-swap-oob="true"' in html
    assert 'id="deliveries"' in html and 'hx-trigger="every 3s"' in html  # polls while it is pending
    assert "Événement de test" in html
    assert drain(queued) == ["failed"]
    log = assert_partial(client.get(urls(endpoint.pk)["deliveries"], **htmx()))
    assert "HTTP 500" in log and "webhook.test" in log and "échec définitif" in log
    assert "every 3s" not in log  # nothing pending: the polling stops
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(urls(endpoint.pk)["test"]).status_code == 302  # without JavaScript
    drain(queued)
    page = client.get(urls(endpoint.pk)["detail"]).content.decode()
    assert "HTTP 200" in page and "HTTP 500" in page
    assert client.get(urls(endpoint.pk)["deliveries"]).status_code == 302


def test_disable_enable_rotate_delete(client, business, endpoint):
    client.force_login(business.admin)
    html = assert_partial(client.post(urls(endpoint.pk)["toggle"], {"active": "0"}, **htmx()))
    assert "Désactivé" in html and "désactivé par Alice" in html
    assert client.post(urls(endpoint.pk)["toggle"], {"active": "1"}).status_code == 302
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active is True
    before = decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted)
    assert client.post(urls(endpoint.pk)["rotate"]).status_code == 302
    assert decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted) != before
    response = client.post(urls(endpoint.pk)["detail"], {"url": endpoint.url + "/v2", "events": ["ticket.assigned"]})
    assert response.status_code == 302
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).events == ["ticket.assigned"]
    response = client.post(urls(endpoint.pk)["delete"], **htmx())
    assert response.status_code == 204 and response["HX-Redirect"] == LIST
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_page_queries_do_not_grow_with_deliveries(client):
    def run(n):
        org = OrganizationFactory(plan=Plan.SCALE)
        admin = member(org, Role.ADMIN)
        endpoint, _ = services.create_endpoint(organization=org, actor=acting(admin), url="https://hooks.example/x",
                                               events=["ticket.created"])
        deliveries = WebhookDelivery.objects.bulk_create([
            WebhookDelivery(organization=org, endpoint=endpoint, event="ticket.created", body="{}",
                            status=DeliveryStatus.DELIVERED, attempts=2) for _ in range(n)
        ])
        WebhookAttempt.objects.bulk_create([
            WebhookAttempt(organization=org, delivery=d, number=i + 1, started_at=d.created_at, status_code=code,
                           succeeded=code == 200)
            for d in deliveries for i, code in enumerate((500, 200))
        ])
        client.force_login(admin)
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("automations:webhook_detail", args=[endpoint.pk]))
        with CaptureQueriesContext(connection) as listing:
            client.get(LIST)
        return len(ctx.captured_queries), len(listing.captured_queries)

    assert run(10) == run(100)
