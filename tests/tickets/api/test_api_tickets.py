"""The API's endpoints: tickets (list with the console's filters, read with messages, create with an
idempotency key, reply, note, changes), customers, companies, tags, articles, satisfaction; cursor pages,
ETag and 304, the error shape in French and English, the same query count for 10 and 100 tickets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_helpers import bearer, new_key, on_plan
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import SYSTEM, CustomerFactory, bulk_tickets, member

from kb import services as kb_services
from kb.models import Article, ArticleStatus
from lumiodesk.models import AuditLog, Role
from tickets import selectors, services
from tickets.api import idempotency
from tickets.api.serializers import TicketSerializer, ticket_row
from tickets.models import Message, MessageKind, Ticket

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture
def api(world):
    on_plan(world.org)
    on_plan(world.other_org)
    world.token = new_key(world.org, world.admin, Role.MANAGER)
    return world


def get(client, w, url, **headers):
    return client.get(url, **bearer(w.token, **headers))


def post(client, w, url, data, method="post", **headers):
    return getattr(client, method)(url, data, content_type=JSON, **bearer(w.token, **headers))


def test_the_list_pages_by_cursor_with_the_consoles_filters(client, api):
    w = api
    bulk_tickets(w.org, 30)
    urgent = services.set_priority(ticket=w.ticket, priority="urgent", actor=SYSTEM)
    first = get(client, w, "/api/v1/tickets/?limit=20").json()
    assert len(first["results"]) == 20 and first["results"][0]["number"] == urgent.number  # urgent first
    second = get(client, w, f"/api/v1/tickets/?limit=20&cursor={first['next_cursor']}").json()
    numbers = [t["number"] for t in first["results"] + second["results"]]
    assert len(numbers) == len(set(numbers)) == 31 and second["next_cursor"] is None
    assert w.other_ticket.number not in numbers
    assert [t["number"] for t in get(client, w, "/api/v1/tickets/?priority=urgent").json()["results"]] == [
        urgent.number]
    found = get(client, w, "/api/v1/tickets/?q=facture").json()["results"]
    assert [t["number"] for t in found] == [w.ticket.number]
    assert found[0]["customer"]["email"] == "claire.dupont@example.com"
    bad = get(client, w, "/api/v1/tickets/?status=lost")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"
    assert get(client, w, "/api/v1/tickets/?cursor=zzz").json()["error"]["code"] == "invalid_cursor"


def test_a_ticket_is_read_with_its_messages_and_an_etag(client, api):
    w = api
    response = get(client, w, f"/api/v1/tickets/{w.ticket.number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "Facture en double" and body["messages"][0]["kind"] == "customer"
    etag = response["ETag"]
    again = get(client, w, f"/api/v1/tickets/{w.ticket.number}/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and not again.content
    services.add_message(ticket=w.ticket, kind=MessageKind.NOTE, body="Vu.", actor=SYSTEM)
    changed = get(client, w, f"/api/v1/tickets/{w.ticket.number}/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_create_with_an_idempotency_key_never_makes_two_tickets(client, api):
    w = api
    data = {"customer_email": "nouveau@example.com", "customer_name": "Nina Nouveau", "subject": "Commande",
            "body": "Où en est ma commande ?", "priority": "high", "tags": ["commande"]}
    first = post(client, w, "/api/v1/tickets/", data, HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == 201
    retried = post(client, w, "/api/v1/tickets/", data, HTTP_IDEMPOTENCY_KEY="order-42")
    assert retried.status_code == 201 and retried.json() == first.json()
    assert retried["Idempotent-Replayed"] == "true"
    assert Ticket.objects.filter(organization=w.org, subject="Commande").count() == 1
    ticket = Ticket.objects.get(organization=w.org, subject="Commande")
    assert ticket.channel == "api" and ticket.priority == "high" and first.json()["tags"] == ["commande"]
    other = post(client, w, "/api/v1/tickets/", {**data, "subject": "Autre"}, HTTP_IDEMPOTENCY_KEY="order-42")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    # Without a key, two POSTs are two tickets; a refused one leaves nothing behind.
    bad = post(client, w, "/api/v1/tickets/", {**data, "subject": " "}, HTTP_IDEMPOTENCY_KEY="order-43")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"
    assert not Ticket.objects.filter(organization=w.org, subject=" ").exists()


def test_reply_note_and_changes_go_through_the_services(client, api):
    w = api
    n = w.ticket.number
    reply = post(client, w, f"/api/v1/tickets/{n}/replies/",
                 {"body": "Nous regardons.", "then_status": "waiting_customer"})
    assert reply.status_code == 201 and reply.json()["kind"] == "reply"
    note = post(client, w, f"/api/v1/tickets/{n}/notes/", {"body": "Client important."})
    assert note.status_code == 201 and note.json()["kind"] == "note"
    w.ticket.refresh_from_db()
    assert w.ticket.status == "waiting_customer" and w.ticket.first_response_at is not None
    changed = post(client, w, f"/api/v1/tickets/{n}/", {"priority": "high", "assignee_id": w.agent.pk,
                                                         "tags": ["facturation", "vip"], "status": "open"},
                   method="patch")
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert (body["priority"], body["assignee"]["id"], body["tags"], body["status"]) == (
        "high", w.agent.pk, ["facturation", "vip"], "open")
    row = AuditLog.objects.get(organization=w.org, action="ticket.assigned", target_id=w.ticket.pk)
    assert row.actor == w.admin and row.data["api_key"] == w.token[:11]  # the key, and the Admin who created it
    # A change the service refuses leaves every other change of the request undone.
    refused = post(client, w, f"/api/v1/tickets/{n}/", {"priority": "low", "assignee_id": w.outsider.pk},
                   method="patch")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    w.ticket.refresh_from_db()
    assert w.ticket.priority == "high"


def test_errors_have_one_shape_in_french_or_english(client, api):
    w = api
    missing = get(client, w, "/api/v1/tickets/999999/")
    assert missing.status_code == 404 and missing.json() == {
        "error": {"code": "not_found", "message": "Introuvable dans votre organisation."}}
    # The services' messages, in the language asked (this fragment's own msgids reach English when merged).
    viewer = new_key(w.org, w.admin, Role.VIEWER)
    url = f"/api/v1/tickets/{w.ticket.number}/"
    fr = client.patch(url, {"status": "open"}, content_type=JSON, HTTP_ACCEPT_LANGUAGE="fr", **bearer(viewer))
    en = client.patch(url, {"status": "open"}, content_type=JSON, HTTP_ACCEPT_LANGUAGE="en", **bearer(viewer))
    assert fr.status_code == en.status_code == 403
    # the service's refusal names the key's role (lumiodesk.permissions.require), as the view's does
    assert fr.json()["error"] == {"code": "forbidden",
                                  "message": "Le rôle de cette clé d'API ne permet pas cette action."}
    assert en.json()["error"] == {"code": "forbidden", "message": "This API key's role does not allow this action."}
    subject = post(client, w, "/api/v1/tickets/", {"customer_email": "a@example.com", "subject": "  ", "body": "x"},
                   HTTP_ACCEPT_LANGUAGE="en")
    assert subject.status_code == 400
    invalid = post(client, w, "/api/v1/tickets/", {"subject": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    assert invalid.status_code == 400 and set(invalid.json()["error"]) == {"code", "message", "details"}
    assert "customer_email" in invalid.json()["error"]["details"]
    broken = client.post("/api/v1/tickets/", "{", content_type=JSON, **bearer(w.token))
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"


def test_customers_companies_tags_and_satisfaction_are_read(client, api):
    w = api
    customers = get(client, w, "/api/v1/customers/").json()["results"]
    assert [c["email"] for c in customers] == ["claire.dupont@example.com"]
    assert get(client, w, f"/api/v1/customers/{w.customer.pk}/").json()["first_name"] == "Claire"
    assert get(client, w, "/api/v1/customers/?email=CLAIRE.dupont@example.com").json()["results"]
    assert get(client, w, "/api/v1/companies/").status_code == 200
    services.set_tags(ticket=w.ticket, names=["facturation"], actor=SYSTEM)
    tags = {t["name"] for t in get(client, w, "/api/v1/tags/").json()["results"]}
    assert "facturation" in tags
    assert get(client, w, "/api/v1/satisfaction/").json() == {"results": [], "next_cursor": None, "next": None}


def test_articles_are_read_and_written_as_drafts(client, api):
    w = api
    created = post(client, w, "/api/v1/articles/", {"title": "Réinitialiser son mot de passe", "body": "Cliquez."})
    assert created.status_code == 201 and created.json()["status"] == ArticleStatus.DRAFT
    pk = created.json()["id"]
    updated = post(client, w, f"/api/v1/articles/{pk}/", {"body": "Cliquez sur « Oublié »."}, method="patch")
    assert updated.status_code == 200 and updated.json()["body"] == "Cliquez sur « Oublié »."
    kb_services.publish_article(actor=SYSTEM, article=Article.objects.get(pk=pk))
    refused = post(client, w, f"/api/v1/articles/{pk}/", {"body": "x"}, method="patch")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_a_draft"
    listed = get(client, w, "/api/v1/articles/?status=published").json()["results"]
    assert [a["id"] for a in listed] == [pk]
    theirs = kb_services.create_article(actor=SYSTEM, organization=w.other_org, title="Secret", body="x")
    assert get(client, w, f"/api/v1/articles/{theirs.pk}/").status_code == 404


def _list_queries(client, w) -> tuple[int, list[str]]:
    get(client, w, "/api/v1/tickets/")  # the key's last use is noted at most once a minute: not measured here
    with CaptureQueriesContext(connection) as ctx:
        response = get(client, w, "/api/v1/tickets/?limit=100")
    assert response.status_code == 200
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def test_the_list_costs_the_same_queries_for_10_and_100_tickets(client, api):
    w = api
    agent = member(w.org, Role.AGENT)
    customer = CustomerFactory(organization=w.org)
    tickets = bulk_tickets(w.org, 9, customer=customer, assignee=agent)
    services.set_tags(ticket=tickets[0], names=["a", "b"], actor=SYSTEM)
    small = _list_queries(client, w)
    more = bulk_tickets(w.org, 90, customer=CustomerFactory(organization=w.org), assignee=agent)
    services.set_tags(ticket=more[0], names=["c"], actor=SYSTEM)
    large = _list_queries(client, w)
    assert small[0] == large[0], "\n".join(large[1])
    assert Message.objects.filter(organization=w.org).count() >= 100


def test_idempotency_records_are_kept_a_day(client, api):
    w = api
    data = {"customer_email": "a@example.com", "subject": "Un", "body": "x"}
    assert post(client, w, "/api/v1/tickets/", data, HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    assert idempotency.purge_expired() == 0
    assert idempotency.purge_expired(now=timezone.now() + timedelta(hours=25)) == 1
    assert post(client, w, "/api/v1/tickets/", data, HTTP_IDEMPOTENCY_KEY="k1").status_code == 201  # a new request
    assert Ticket.objects.filter(organization=w.org, subject="Un").count() == 2


def test_customers_are_added_once_per_email(client, api):
    w = api
    created = post(client, w, "/api/v1/customers/", {"email": "Zoe@Example.com", "name": "Zoé Martin",
                                                     "company_name": "Initech"})
    assert created.status_code == 201
    body = created.json()
    assert (body["email"], body["first_name"], body["company"]["name"]) == ("Zoe@example.com", "Zoé", "Initech")
    again = post(client, w, "/api/v1/customers/", {"email": "zoe@example.com"})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    viewer = new_key(w.org, w.admin, Role.VIEWER)
    refused = client.post("/api/v1/customers/", {"email": "x@example.com"}, content_type=JSON, **bearer(viewer))
    assert refused.status_code == 403


def test_the_list_rows_are_what_the_ticket_serializer_describes(api):
    w = api
    services.set_tags(ticket=w.ticket, names=["b", "a"], actor=SYSTEM)
    services.assign(ticket=w.ticket, assignee=w.agent, actor=SYSTEM)
    ticket = selectors.api_ticket(w.org, w.ticket.number)
    assert ticket_row(ticket) == TicketSerializer(ticket).data


def test_the_api_answers_json_whatever_accept_or_format_say(client, api):
    w = api
    for headers, query in (({"HTTP_ACCEPT": "text/html"}, ""), ({"HTTP_ACCEPT": "application/xml"}, ""),
                           ({}, "?format=xml")):
        response = get(client, w, f"/api/v1/tickets/{query}", **headers)
        assert response.status_code == 200 and response["Content-Type"].startswith(JSON)


def test_digits_that_are_not_decimal_are_a_clear_400_not_a_500(client, api):
    w = api  # "²".isdigit() is true, but int("²") fails
    assert get(client, w, "/api/v1/tickets/?limit=²").status_code == 400
    for query in ("?assignee=²", "?customer=²", "?company=²"):  # ignored, as the console's list ignores them
        response = get(client, w, f"/api/v1/tickets/{query}")
        assert response.status_code == 200 and response.json()["results"], query
    assert get(client, w, "/api/v1/time-entries/?ticket=²").status_code == 400
    assert get(client, w, "/api/v1/tickets/?q=²").status_code == 200
