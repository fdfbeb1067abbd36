"""API keys: Settings > API (Admins), shown once, stored hashed, last use, revocation, expiry, audit; the key's
role, the plan and a read-only organization decide what it may do."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from api_helpers import bearer, new_key, on_plan
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from factories import SYSTEM, acting

from billing import subscriptions
from lumiodesk.audit import label_of
from lumiodesk.exceptions import FeatureNotAvailable, NotPermitted
from lumiodesk.models import AuditLog, Plan, Role
from tickets.api import keys
from tickets.api.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def business(world):
    on_plan(world.org)
    on_plan(world.other_org)
    return world


def test_an_admin_creates_a_key_shown_once_and_stored_hashed(client, business):
    w = business
    client.force_login(w.admin)
    url = reverse("api_settings:keys")
    response = client.post(url, {"name": "Zapier", "role": Role.AGENT, "expires_on": ""})
    assert response.status_code == 200
    key = ApiKey.objects.get(organization=w.org, name="Zapier")
    token = response.context["new_token"]
    assert token.startswith("ld_") and token in response.content.decode()
    assert key.key_hash == hashlib.sha256(token.encode()).hexdigest() and token not in str(key.__dict__)
    assert key.prefix == token[:11] and key.role == Role.AGENT and key.created_by == w.admin
    page = client.get(url).content.decode()
    assert token not in page and key.prefix in page  # shown once; the prefix tells keys apart
    assert AuditLog.objects.filter(organization=w.org, action="api_key.created", target_id=key.pk).exists()


def test_only_admins_manage_keys(client, business):
    w = business
    for user in (w.manager, w.agent, w.viewer):
        client.force_login(user)
        assert client.get(reverse("api_settings:keys")).status_code == 403
    with pytest.raises(NotPermitted):
        keys.create_key(actor=acting(w.manager), organization=w.org, name="x", role=Role.ADMIN)


def test_revoking_a_key_stops_it_at_once_and_is_audited(client, business):
    w = business
    token = new_key(w.org, w.admin)
    key = ApiKey.objects.get(organization=w.org)
    assert client.get("/api/v1/tickets/", **bearer(token)).status_code == 200
    client.force_login(w.admin)
    assert client.post(reverse("api_settings:revoke", args=[key.pk])).status_code == 302
    response = client.get("/api/v1/tickets/", **bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert AuditLog.objects.filter(organization=w.org, action="api_key.revoked", target_id=key.pk).exists()
    # Another organization's key cannot be revoked from here.
    theirs = keys.create_key(actor=SYSTEM, organization=w.other_org, name="x", role=Role.AGENT)
    assert client.post(reverse("api_settings:revoke", args=[theirs.key.pk])).status_code == 404


def test_an_expired_key_a_wrong_key_and_no_key_are_401(client, business):
    w = business
    token = new_key(w.org, w.admin, expires_at=timezone.now() + timedelta(days=1))
    ApiKey.objects.filter(organization=w.org).update(expires_at=timezone.now() - timedelta(seconds=1))
    for headers in (bearer(token), bearer("ld_wrong"), bearer("not-even-ours"), {}):
        response = client.get("/api/v1/tickets/", **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"] == "Bearer"
        assert set(response.json()["error"]) == {"code", "message"}


def test_last_use_time_and_address_are_kept_and_shown(client, business):
    w = business
    token = new_key(w.org, w.admin)
    client.get("/api/v1/tickets/", REMOTE_ADDR="203.0.113.7", **bearer(token))
    key = ApiKey.objects.get(organization=w.org)
    assert key.last_used_ip == "203.0.113.7" and key.last_used_at is not None
    client.force_login(w.admin)
    assert "203.0.113.7" in client.get(reverse("api_settings:keys")).content.decode()


def test_the_key_acts_with_its_role(client, business):
    w = business
    viewer, agent = new_key(w.org, w.admin, Role.VIEWER), new_key(w.org, w.admin, Role.AGENT)
    url = f"/api/v1/tickets/{w.ticket.number}/replies/"
    assert client.get(f"/api/v1/tickets/{w.ticket.number}/", **bearer(viewer)).status_code == 200
    refused = client.post(url, {"body": "Bonjour"}, content_type="application/json", **bearer(viewer))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    done = client.post(url, {"body": "Bonjour"}, content_type="application/json", **bearer(agent))
    assert done.status_code == 201
    assert done.json()["author"]["email"] == w.admin.email  # written through the key its Admin created
    assert client.post("/api/v1/articles/", {"title": "T", "body": "B"}, content_type="application/json",
                       **bearer(viewer)).status_code == 403


def test_starter_gets_a_403_naming_its_plan(client, world):
    on_plan(world.org)
    token = new_key(world.org, world.admin)
    on_plan(world.org, Plan.STARTER)
    response = client.get("/api/v1/tickets/", HTTP_ACCEPT_LANGUAGE="en", **bearer(token))
    assert response.status_code == 403
    body = response.json()["error"]
    assert body["code"] == "plan_excludes_api" and "Starter" in body["message"]
    with pytest.raises(FeatureNotAvailable):
        keys.create_key(actor=acting(world.admin), organization=world.org, name="x", role=Role.AGENT)


def test_a_read_only_organization_reads_but_does_not_write(client, business):
    w = business
    token = new_key(w.org, w.admin)
    subscriptions.cancel(actor=acting(w.admin), organization=w.org)
    assert client.get("/api/v1/tickets/", **bearer(token)).status_code == 200
    response = client.post(f"/api/v1/tickets/{w.ticket.number}/notes/", {"body": "x"},
                           content_type="application/json", **bearer(token))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "organization_read_only"


def test_another_organizations_objects_are_404(client, business):
    w = business
    token = new_key(w.org, w.admin)
    for url in (f"/api/v1/tickets/{w.other_ticket.number}/", f"/api/v1/customers/{w.other_ticket.customer_id}/"):
        response = client.get(url, **bearer(token))
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.post(f"/api/v1/tickets/{w.other_ticket.number}/replies/", {"body": "x"},
                           content_type="application/json", **bearer(token))
    assert response.status_code == 404


def _page_queries(client) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("api_settings:keys")).status_code == 200
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def _more_keys(org, admin, n: int) -> None:
    ApiKey.objects.bulk_create([ApiKey(organization=org, name=f"k{i}", role=Role.AGENT, prefix=f"ld_{i:08}",
                                       key_hash=hashlib.sha256(f"{org.pk}-{n}-{i}".encode()).hexdigest(),
                                       created_by=admin)
                                for i in range(n)])


def test_the_keys_page_costs_the_same_queries_for_10_and_100_keys(client, business):
    w = business
    client.force_login(w.admin)
    _more_keys(w.org, w.admin, 10)
    client.get(reverse("api_settings:keys"))  # warm the caches (subscription, counters)
    small = _page_queries(client)
    _more_keys(w.org, w.manager, 90)
    large = _page_queries(client)
    assert small[0] == large[0], "\n".join(large[1])


def test_the_page_says_when_the_plan_has_no_api(client, world):
    client.force_login(world.admin)
    html = client.get(reverse("api_settings:keys")).content.decode()
    assert "disponible sur Business et Scale" in html and "Créer la clé" not in html


def test_the_audit_log_names_key_events_in_words():
    assert label_of("api_key.created") == "Clé d'API créée" and label_of("api_key.revoked") == "Clé d'API révoquée"
