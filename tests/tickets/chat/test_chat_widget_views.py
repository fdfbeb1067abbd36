"""What visitors' browsers call: /widget.js, config (CORS), the frame (CSP) and the frame's API."""

from __future__ import annotations

import pytest
from chat_helpers import ORIGIN, agent_here, fresh_ip, make_widget, nobody_here
from django.urls import reverse
from factories import acting, bulk_messages
from kb_helpers import HIDDEN_WORDS, make_kb

from tickets import services as ticket_services
from tickets.chat import services
from tickets.chat.models import ChatConversation
from tickets.models import Channel, MessageKind, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def widget(world):
    return make_widget(world.org, world.admin)


@pytest.fixture
def one_window(monkeypatch):
    """The rate limits count in fixed windows (one minute for a conversation's messages): a test sending up to
    the limit stays in the window it started in, even on a machine slow enough to cross a minute boundary."""
    import time

    from lumiodesk import ratelimit

    started = time.time()
    monkeypatch.setattr(ratelimit, "time", type("FrozenTime", (), {"time": staticmethod(lambda: started)}))


def api(client, widget, name, *, method="get", origin=ORIGIN, token=None, ip=None, data=None, **extra):
    url = reverse(f"chat_public:{name}", args=[widget.workspace_id])
    headers = {"HTTP_X_WIDGET_ORIGIN": origin, "REMOTE_ADDR": ip or fresh_ip(), **extra}
    if token:
        headers["HTTP_X_WIDGET_TOKEN"] = token
    if method == "post":
        return client.post(url, data=data or {}, content_type="application/json", **headers)
    return client.get(url, data or {}, **headers)


def start(client, widget, ip=None, **fields):
    data = {"name": "Vera Visiteur", "email": "vera@example.com", "message": "Ma facture est fausse.",
            "visitor": "v-1", **fields}
    return api(client, widget, "api_start", method="post", data=data, ip=ip)


# --- /widget.js and config -------------------------------------------------------------------------


def test_widget_js_is_small_and_cacheable(client):
    response = client.get("/widget.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert "public" in response["Cache-Control"] and response["ETag"]
    assert len(response.content) < 6000
    assert client.get("/widget.js", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_config_on_an_allowed_origin(client, widget):
    response = client.get(reverse("chat_public:config", args=[widget.workspace_id]), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN and "Origin" in response["Vary"]
    frame_url = response.json()["frame_url"]
    assert frame_url.endswith(f"/widget/{widget.workspace_id}/frame/?origin=https%3A%2F%2Fshop.acme.test")


def test_config_refuses_another_origin_with_a_clear_message(client, widget):
    response = client.get(reverse("chat_public:config", args=[widget.workspace_id]), HTTP_ORIGIN="https://evil.test")
    assert response.status_code == 403
    assert response["Access-Control-Allow-Origin"] == "https://evil.test"  # so the script can print why
    error = response.json()["error"]
    assert "https://evil.test" in error and "Paramètres > Canaux > Chat" in error


def test_config_of_an_unknown_or_disabled_widget(client, world, widget):
    response = client.get(reverse("chat_public:config", args=["nope"]), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 404 and "nope" in response.json()["error"]
    services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=False,
                           allowed_domains=widget.allowed_domains)
    response = client.get(reverse("chat_public:config", args=[widget.workspace_id]), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 403 and "désactivé" in response.json()["error"]


# --- the frame -------------------------------------------------------------------------------------


def test_frame_is_embeddable_only_by_allowed_origins(client, widget):
    url = reverse("chat_public:frame", args=[widget.workspace_id])
    response = client.get(url, {"origin": ORIGIN})
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors https://shop.acme.test:* https://shop.acme.test" in csp
    assert "https://*.acme.test" in csp and "evil" not in csp
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert "Chat avec Acme" in html and "Hors ligne" in html


def test_frame_refuses_a_foreign_origin_parameter(client, widget):
    response = client.get(reverse("chat_public:frame", args=[widget.workspace_id]), {"origin": "https://evil.test"})
    assert response.status_code == 403
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_frame_shows_live_chat_when_an_agent_is_here(client, world, widget, clock):
    agent_here(world.org, world.agent)
    html = client.get(reverse("chat_public:frame", args=[widget.workspace_id]), {"origin": ORIGIN}).content.decode()
    assert "En ligne" in html and "Démarrer la conversation" in html


def test_starter_frame_uses_the_default_branding(client, world, widget):
    widget.color, widget.welcome_message = "#ff0000", "Promo !"
    widget.save()
    html = client.get(reverse("chat_public:frame", args=[widget.workspace_id]), {"origin": ORIGIN}).content.decode()
    assert "#ff0000" not in html and "Promo" not in html and services.DEFAULT_COLOR in html


# --- origin checks on the API ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api_root", "api_suggest", "api_conversation"])
def test_api_refuses_a_parent_page_elsewhere(client, widget, name):
    assert api(client, widget, name, origin="https://evil.test").status_code == 403
    assert api(client, widget, name, origin="").status_code == 403


def test_api_refuses_a_cross_origin_caller(client, widget):
    response = api(client, widget, "api_start", method="post", data={}, HTTP_ORIGIN="https://evil.test")
    assert response.status_code == 403
    assert not ChatConversation.objects.exists()


# --- suggestions -----------------------------------------------------------------------------------


def test_suggestions_never_show_drafts_archived_internal_or_hidden_articles(client, world, widget):
    make_kb(world.org, world.manager)
    titles = [a["title"] for a in api(client, widget, "api_suggest", data={"q": "tarif"}).json()["articles"]]
    assert titles == ["Tarif Zephyrin"]
    for word in HIDDEN_WORDS:
        assert api(client, widget, "api_suggest", data={"q": word}).json()["articles"] == [], word
    url = api(client, widget, "api_suggest", data={"q": "zephyrin"}).json()["articles"][0]["url"]
    assert url.endswith("/help/acme/a/tarif-zephyrin/")


def test_suggestions_of_another_organization_are_not_reachable(client, world, widget):
    from factories import member

    from lumiodesk.models import Role

    make_kb(world.other_org, member(world.other_org, Role.MANAGER))
    assert api(client, widget, "api_suggest", data={"q": "zephyrin"}).json()["articles"] == []


def test_suggest_is_four_queries(client, world, widget, django_assert_num_queries):
    make_kb(world.org, world.manager)
    # the widget; the assistant's retrieval: the question's words, the passages' vectors, the candidates
    with django_assert_num_queries(4):
        api(client, widget, "api_suggest", data={"q": "tarif zeph"})


# --- conversations ---------------------------------------------------------------------------------


def test_offline_start_creates_a_chat_ticket_and_says_when_to_expect_an_answer(client, world, widget, clock):
    nobody_here(world.org)
    response = start(client, widget)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["token"] and data["conversation"]["mode"] == "offline"
    # Monday 10:00, normal priority: 8 business hours -> Monday 18:00 (Paris)
    assert "au plus tard le lundi 10 mars 2025 à 18:00" in data["conversation"]["notice"]
    assert [m["text"] for m in data["messages"]] == ["Ma facture est fausse."]
    ticket = Ticket.objects.get(organization=world.org, number=data["conversation"]["ticket"])
    assert ticket.channel == Channel.CHAT


def test_live_start(client, world, widget, clock):
    agent_here(world.org, world.agent)
    data = start(client, widget).json()
    assert data["conversation"]["mode"] == "live" and "quelques instants" in data["conversation"]["notice"]


def test_start_with_bad_input_says_why(client, widget):
    response = start(client, widget, email="nope")
    assert response.status_code == 400 and "email" in response.json()["error"].lower()
    assert not ChatConversation.objects.exists()


def test_start_is_rate_limited_per_visitor(client, widget):
    for _ in range(5):
        assert start(client, widget, visitor="same").status_code == 201
    response = start(client, widget, visitor="same")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0 and "Réessayez dans" in response.json()["error"]
    assert start(client, widget, visitor="another").status_code == 201


def test_start_is_rate_limited_per_ip(client, widget, one_window):
    ip = fresh_ip()
    for i in range(20):
        assert start(client, widget, ip=ip, visitor=f"v{i}").status_code == 201
    assert start(client, widget, ip=ip, visitor="v-new").status_code == 429
    assert ChatConversation.objects.count() == 20


def test_poll_shows_public_messages_never_notes(client, world, widget):
    data = start(client, widget).json()
    token = data["token"]
    first = data["messages"][0]["id"]
    ticket = ChatConversation.objects.get().ticket
    ticket_services.add_message(ticket=ticket, kind=MessageKind.NOTE, body="Client pénible", actor=acting(world.agent))
    ticket_services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Bonjour Vera !", actor=acting(world.agent))
    polled = api(client, widget, "api_conversation", token=token, data={"after": first}).json()
    assert [(m["from"], m["author"], m["text"]) for m in polled["messages"]] == [("agent", "Agathe", "Bonjour Vera !")]
    assert polled["conversation"]["notice"] == ""  # answered
    everything = api(client, widget, "api_conversation", token=token).json()["messages"]
    assert "Client pénible" not in str(everything)


def test_visitor_sends_a_message(client, widget):
    token = start(client, widget).json()["token"]
    response = api(client, widget, "api_conversation", method="post", token=token, data={"body": "Et mars ?"})
    assert response.status_code == 201
    assert [m["text"] for m in response.json()["messages"]][-1] == "Et mars ?"
    empty = api(client, widget, "api_conversation", method="post", token=token, data={"body": "  "})
    assert empty.status_code == 400 and empty.json()["error"]


def test_messages_are_rate_limited_per_conversation(client, widget, one_window):
    token = start(client, widget).json()["token"]
    for i in range(30):
        api(client, widget, "api_conversation", method="post", token=token, data={"body": f"m{i}"})
    response = api(client, widget, "api_conversation", method="post", token=token, data={"body": "encore"})
    assert response.status_code == 429


def test_unknown_token_is_gone(client, widget):
    response = api(client, widget, "api_conversation", token="forged")
    assert response.status_code == 404 and response.json()["gone"]
    assert api(client, widget, "api_conversation").status_code == 404


def test_another_organizations_conversation_is_never_reachable(client, world, widget):
    from factories import member

    from lumiodesk.models import Role

    token = start(client, widget).json()["token"]
    other_admin = member(world.other_org, Role.ADMIN)
    other = make_widget(world.other_org, other_admin)
    # the visitor's token only works with the workspace it was created in
    assert api(client, other, "api_conversation", token=token).status_code == 404
    assert api(client, other, "api_conversation", method="post", token=token, data={"body": "x"}).status_code == 404


@pytest.mark.parametrize("n", [10, 100])
def test_poll_is_three_queries_whatever_the_conversation(client, world, widget, n, django_assert_num_queries):
    token = start(client, widget).json()["token"]
    bulk_messages(ChatConversation.objects.get().ticket, n, author=world.agent)
    with django_assert_num_queries(3):  # the widget; the conversation with its ticket; the messages
        response = api(client, widget, "api_conversation", token=token)
    assert len(response.json()["messages"]) == 1 + n - n // 3  # no notes


def test_poll_with_nothing_new(client, widget, django_assert_num_queries):
    data = start(client, widget).json()
    with django_assert_num_queries(3):
        response = api(client, widget, "api_conversation", token=data["token"],
                       data={"after": data["messages"][-1]["id"]})
    assert response.json()["messages"] == []
