"""The console side of the chat: Settings > Channels > Chat, the chat inbox, the top bar badge (the agents'
presence) and a chat ticket's live page. Each view: anonymous, another organization, read-only role,
the allowed user, and the HTMX variant."""

from __future__ import annotations

import pytest
from chat_helpers import BUSINESS, bulk_chats, make_widget, nobody_here, start
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import acting
from helpers import assert_login_redirect, assert_partial, htmx

from lumiodesk.models import AuditLog
from tickets import services as ticket_services
from tickets.chat import presence
from tickets.chat.models import ChatConversation, ChatWidget
from tickets.chat.selectors import INBOX_SIZE
from tickets.models import MessageKind

pytestmark = pytest.mark.django_db

SETTINGS = "/settings/channels/chat/"


# --- settings ----------------------------------------------------------------------------------------


def test_settings_access(client, world):
    assert_login_redirect(client.get(SETTINGS), SETTINGS)
    for user in (world.manager, world.agent, world.viewer):
        client.force_login(user)
        assert client.get(SETTINGS).status_code == 403
    client.force_login(world.admin)
    html = client.get(SETTINGS).content.decode()
    assert "Créer le widget" in html


def test_admin_creates_the_widget_then_sets_domains(client, world):
    client.force_login(world.admin)
    client.post(SETTINGS)
    widget = ChatWidget.objects.get(organization=world.org)
    html = client.get(SETTINGS).content.decode()
    assert f'/widget.js&quot; data-workspace=&quot;{widget.workspace_id}&quot;' in html
    assert "Aucun domaine autorisé" in html
    response = client.post(SETTINGS, {"is_enabled": "on", "allowed_domains": "www.acme.test\n*.acme.test\n"})
    assert response.status_code == 302
    widget.refresh_from_db()
    assert widget.allowed_domains == ["www.acme.test", "*.acme.test"]
    assert AuditLog.objects.filter(organization=world.org, action="chat.widget_updated").exists()


def test_invalid_domain_is_explained(client, world):
    widget = make_widget(world.org, world.admin)
    client.force_login(world.admin)
    response = client.post(SETTINGS, {"is_enabled": "on", "allowed_domains": "ok.test\nbad domain"})
    assert response.status_code == 400
    assert "Domaine invalide : « bad domain »" in response.content.decode()
    widget.refresh_from_db()
    assert "ok.test" not in widget.allowed_domains  # nothing half-saved


def test_starter_settings_say_which_plans_brand(client, world):
    make_widget(world.org, world.admin)
    client.force_login(world.admin)
    html = client.get(SETTINGS).content.decode()
    assert "Votre forfait Starter" in html and "Business et Scale" in html
    assert 'name="color"' not in html
    # a crafted POST cannot brand a Starter widget
    client.post(SETTINGS, {"is_enabled": "on", "allowed_domains": "a.test", "color": "#ff0000"})
    assert ChatWidget.objects.get(organization=world.org).color == ""


def test_business_settings_save_branding(client, world):
    make_widget(world.org, world.admin, plan=BUSINESS)
    client.force_login(world.admin)
    assert 'name="color"' in client.get(SETTINGS).content.decode()
    response = client.post(SETTINGS, {"is_enabled": "on", "allowed_domains": "a.test", "color": "#0b7285",
                                      "welcome_message": "Bienvenue chez Acme", "logo_url": ""})
    assert response.status_code == 302
    widget = ChatWidget.objects.get(organization=world.org)
    assert (widget.color, widget.welcome_message) == ("#0b7285", "Bienvenue chez Acme")


def test_settings_show_only_the_own_widget(client, world):
    from factories import member

    from lumiodesk.models import Role

    other = make_widget(world.other_org, member(world.other_org, Role.ADMIN))
    client.force_login(world.admin)
    assert other.workspace_id not in client.get(SETTINGS).content.decode()


# --- inbox and badge ---------------------------------------------------------------------------------


@pytest.fixture
def chats(world, clock):
    widget = make_widget(world.org, world.admin)
    nobody_here(world.org)
    waiting = start(widget, name="Vera Visiteur", email="vera@example.com").conversation
    answered = start(widget, name="Paul Payeur", email="paul@example.com", message="Et mon avoir ?").conversation
    ticket_services.add_message(ticket=answered.ticket, kind=MessageKind.REPLY, body="C'est fait.",
                                actor=acting(world.agent))
    return waiting, answered


def test_inbox_access_and_content(client, world, chats):
    url = reverse("chat:inbox")
    assert_login_redirect(client.get(url), url)
    client.force_login(world.viewer)
    assert client.get(url).status_code == 200
    client.force_login(world.agent)
    html = client.get(url).content.decode()
    assert "1 chat en attente de réponse" in html
    assert "Vera Visiteur" in html and "Paul Payeur" in html and "C&#x27;est fait." in html
    client.force_login(world.outsider)
    html = client.get(url).content.decode()
    assert "Vera Visiteur" not in html and "Aucun visiteur n'attend de réponse." in html


def test_inbox_htmx_partial(client, world, chats):
    client.force_login(world.agent)
    html = assert_partial(client.get(reverse("chat:inbox"), **htmx("chat-inbox")))
    assert 'id="chat-inbox"' in html and "Vera Visiteur" in html


def test_inbox_queries_do_not_grow(client, world, clock):
    """The same queries for 10 and for 100 chats (at 100 both lists are full: 50 waiting, 50 ongoing)."""
    widget = make_widget(world.org, world.admin)
    client.force_login(world.agent)
    url = reverse("chat:inbox")
    counts = {}
    for n in (10, 100):
        bulk_chats(widget, n - ChatConversation.objects.filter(organization=world.org).count(), assignee=world.agent)
        assert ChatConversation.objects.filter(organization=world.org).count() == n
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            html = assert_partial(client.get(url, **htmx("chat-inbox")))
        counts[n] = [q["sql"] for q in queries.captured_queries]
        assert f"{min(n // 2, INBOX_SIZE)} chats en attente de réponse" in html
        assert html.count('class="t-num"') == 2 * min(n // 2, INBOX_SIZE)  # a row per chat, up to the size
    listing = "\n".join(f"  {i + 1}. {sql}" for i, sql in enumerate(counts[100]))
    assert len(counts[10]) == len(counts[100]) <= 9, f"{len(counts[10])} queries for 10, {len(counts[100])}:\n{listing}"


def test_badge_counts_waiting_chats_and_marks_the_agent_present(client, world, chats):
    url = reverse("chat:badge")
    assert_login_redirect(client.get(url), url)
    presence.forget(world.org.pk)
    client.force_login(world.viewer)
    client.get(url)
    assert not presence.agents_online(world.org.pk)  # a viewer cannot answer chats
    client.force_login(world.agent)
    html = assert_partial(client.get(url, **htmx()))
    assert 'class="chat-count"' in html and ">1<" in html
    assert presence.agents_online(world.org.pk)
    client.force_login(world.outsider)
    assert "chat-count" not in client.get(url).content.decode()


# --- a chat ticket's live page ----------------------------------------------------------------------


def test_chat_ticket_page_polls_and_others_do_not(client, world, chats):
    waiting, _answered = chats
    client.force_login(world.agent)
    html = client.get(reverse("tickets:detail", args=[waiting.ticket.number])).content.decode()
    assert 'id="chat-live"' in html
    html = client.get(reverse("tickets:detail", args=[world.ticket.number])).content.decode()
    assert 'id="chat-live"' not in html


def test_ticket_live_poll(client, world, chats, django_assert_max_num_queries):
    waiting, _answered = chats
    ticket = waiting.ticket
    url = reverse("chat:ticket_live", args=[ticket.number])
    assert_login_redirect(client.get(url), url)
    last = ticket.messages.order_by("-id").first().pk
    client.force_login(world.outsider)
    assert client.get(url, {"after": last}).status_code == 404
    client.force_login(world.viewer)
    assert client.get(url, {"after": last}).status_code == 204
    client.force_login(world.agent)
    with django_assert_max_num_queries(5):  # session, user, memberships, ticket, newest message id
        assert client.get(url, {"after": last}, **htmx()).status_code == 204
    from tickets.chat import services

    services.post_visitor_message(conversation=waiting, body="Vous êtes là ?")
    html = assert_partial(client.get(url, {"after": last}, **htmx()))
    assert "Vous êtes là ?" in html and 'id="timeline"' in html and 'hx-swap-oob="true"' in html
    newest = ticket.messages.order_by("-id").first().pk
    assert f"after={newest}" in html
