"""The chat widget's rules: allowed domains, settings by plan, conversations as tickets, the chat inbox."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from chat_helpers import BUSINESS, agent_here, closed_all_week, make_widget, nobody_here, open_all_week, start
from factories import acting

from crm.models import Customer
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog, Plan
from tickets import services as ticket_services
from tickets.chat import domains, services
from tickets.chat.availability import availability
from tickets.chat.models import ChatConversation, ConversationMode
from tickets.models import Channel, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db


# --- allowed domains (pure) -------------------------------------------------------------------------


@pytest.mark.parametrize("raw, rule", [
    ("example.com", "example.com"),
    ("  Example.COM ", "example.com"),
    ("https://www.example.com/pricing", "www.example.com"),
    ("*.example.com", "*.example.com"),
    ("localhost:8000", "localhost:8000"),
    ("localhost:*", "localhost"),
    ("127.0.0.1", "127.0.0.1"),
])
def test_rules_are_normalized(raw, rule):
    assert str(domains.parse_allowed_origin(raw)) == rule


@pytest.mark.parametrize("raw", ["", "exa mple.com", "ftp://example.com", "example.com/path", "user@example.com",
                                 "example.com:99999", "300.1.1.1", "*example.com", "-bad.com"])
def test_invalid_rules_are_refused(raw):
    with pytest.raises(domains.InvalidDomain):
        domains.parse_allowed_origin(raw)


@pytest.mark.parametrize("origin, allowed", [
    ("https://example.com", True),
    ("http://example.com:8080", True),  # no port in the rule: any port
    ("https://shop.example.com", True),  # *.example.com
    ("https://a.b.example.com", True),
    ("https://evil-example.com", False),
    ("https://example.com.evil.test", False),
    ("http://localhost:3000", False),  # localhost:8000 only
    ("http://localhost:8000", True),
    ("null", False),
    ("", False),
    ("javascript:alert(1)", False),
])
def test_origin_matching(origin, allowed):
    rules = ["example.com", "*.example.com", "localhost:8000"]
    assert domains.origin_allowed(origin, rules) is allowed


def test_wildcard_does_not_cover_the_bare_domain():
    assert not domains.origin_allowed("https://example.com", ["*.example.com"])


def test_frame_ancestors():
    assert domains.frame_ancestors([]) == "'none'"
    sources = domains.frame_ancestors(["localhost", "shop.test:8443"]).split()
    assert "http://localhost:*" in sources and "https://localhost:*" in sources
    assert "https://shop.test:8443" in sources and "https://shop.test:*" not in sources


# --- settings ----------------------------------------------------------------------------------------


def test_create_widget_is_admin_only_and_audited(world):
    with pytest.raises(NotPermitted):
        services.create_widget(organization=world.org, actor=acting(world.manager))
    widget = services.create_widget(organization=world.org, actor=acting(world.admin))
    assert len(widget.workspace_id) == 20
    assert services.create_widget(organization=world.org,
                                  actor=acting(world.admin)).pk == widget.pk  # one per organization
    assert AuditLog.objects.filter(organization=world.org, action="chat.widget_created").count() == 1


def test_update_normalizes_domains_and_audits_the_change(world):
    widget = make_widget(world.org, world.admin, domains=["https://Shop.Acme.test/", "shop.acme.test", "localhost"])
    assert widget.allowed_domains == ["shop.acme.test", "localhost"]
    row = AuditLog.objects.filter(organization=world.org, action="chat.widget_updated").latest("id")
    assert row.data["changes"]["allowed_domains"]["new"] == ["shop.acme.test", "localhost"]


def test_invalid_domain_leaves_the_widget_unchanged(world):
    widget = make_widget(world.org, world.admin)
    with pytest.raises(InvalidInput, match="exa mple"):
        services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=False,
                               allowed_domains=["ok.test", "exa mple.com"])
    widget.refresh_from_db()
    assert widget.is_enabled and "shop.acme.test" in widget.allowed_domains


def test_branding_is_refused_on_starter_and_defaults_shown(world):
    widget = make_widget(world.org, world.admin)
    with pytest.raises(NotPermitted, match="Business et Scale"):
        services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=True, allowed_domains=[],
                               color="#ff0000")
    branding = services.branding_of(widget, world.org)
    assert branding.color == services.DEFAULT_COLOR and not branding.custom


def test_branding_on_business_and_back_to_defaults_after_a_downgrade(world):
    widget = make_widget(world.org, world.admin, plan=BUSINESS)
    widget = services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=True,
                                    allowed_domains=["a.test"],
                                    color="#0b7285", welcome_message="Salut !", logo_url="https://cdn.acme.test/l.png")
    branding = services.branding_of(widget, world.org)
    assert (branding.color, branding.welcome_message, branding.logo_url) == (
        "#0b7285", "Salut !", "https://cdn.acme.test/l.png")
    world.org.plan = Plan.STARTER
    world.org.save(update_fields=["plan"])
    assert services.branding_of(widget, world.org).color == services.DEFAULT_COLOR


def test_bad_colour_and_plain_http_logo_are_refused(world):
    widget = make_widget(world.org, world.admin, plan=BUSINESS)
    with pytest.raises(InvalidInput):
        services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=True, allowed_domains=[],
                               color="red")
    with pytest.raises(InvalidInput):
        services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=True, allowed_domains=[],
                               logo_url="http://cdn.acme.test/l.png")


def test_logo_upload_checks_the_content(world):
    from factories import PNG, upload

    widget = make_widget(world.org, world.admin, plan=BUSINESS)
    with pytest.raises(InvalidInput, match="PNG, JPEG ou WebP"):
        services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=True, allowed_domains=[],
                               logo=upload("logo.png", b"<svg onload=alert(1)>"))
    widget = services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=True, allowed_domains=[],
                                    logo=upload("logo.png", PNG))
    assert widget.logo and widget.logo_content_type == "image/png"


# --- availability ----------------------------------------------------------------------------------


def test_live_needs_opening_hours_and_an_agent(world, clock):
    nobody_here(world.org)
    assert not availability(world.org).live  # Monday 10:00, default hours, nobody
    agent_here(world.org, world.agent)
    assert availability(world.org).live
    clock.set(datetime(2025, 3, 10, 20, 0, tzinfo=ZoneInfo("Europe/Paris")))
    state = availability(world.org)
    assert not state.live and not state.open_now
    assert state.next_open == datetime(2025, 3, 11, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))


# --- conversations ---------------------------------------------------------------------------------


def test_offline_conversation_is_a_chat_ticket_with_an_answer_due(world, clock):
    widget = make_widget(world.org, world.admin)
    nobody_here(world.org)
    started = start(widget)
    conversation = started.conversation
    ticket = Ticket.objects.get(pk=conversation.ticket_id)
    assert ticket.channel == Channel.CHAT and ticket.status == Status.NEW
    assert ticket.customer.email == "vera@example.com" and ticket.customer.first_name == "Vera"
    assert ticket.subject == "Bonjour, ma facture est fausse."
    assert ticket.first_response_due_at is not None  # stamped by sla, as on every channel
    assert conversation.mode == ConversationMode.OFFLINE and conversation.waiting_since is not None
    # only the token's hash is stored
    assert conversation.visitor_key == hashlib.sha256(started.token.encode()).hexdigest()
    assert started.token not in str(ChatConversation.objects.filter(pk=conversation.pk).values().get())
    assert AuditLog.objects.filter(organization=world.org, action="chat.started", target_id=ticket.pk).exists()


def test_live_conversation_when_open_and_an_agent_is_here(world, clock):
    widget = make_widget(world.org, world.admin)
    agent_here(world.org, world.agent)
    assert start(widget).conversation.mode == ConversationMode.LIVE


def test_closed_hours_mean_offline_even_with_an_agent(world, clock):
    widget = make_widget(world.org, world.admin)
    closed_all_week(world.org)
    agent_here(world.org, world.agent)
    assert start(widget).conversation.mode == ConversationMode.OFFLINE


def test_open_all_week_helper(world, clock):
    open_all_week(world.org)
    clock.set(datetime(2025, 3, 9, 3, 0, tzinfo=ZoneInfo("Europe/Paris")))  # Sunday night
    assert availability(world.org).open_now


@pytest.mark.parametrize("fields, error", [
    ({"message": "  "}, "Écrivez votre message"),
    ({"email": ""}, "Indiquez votre email"),
    ({"email": "pas-un-email"}, "Adresse email invalide"),
    ({"message": "x" * 5001}, "trop long"),
])
def test_bad_input_leaves_nothing_behind(world, fields, error):
    widget = make_widget(world.org, world.admin)
    tickets, customers = Ticket.objects.count(), Customer.objects.count()
    with pytest.raises(InvalidInput, match=error):
        start(widget, **fields)
    assert (Ticket.objects.count(), Customer.objects.count()) == (tickets, customers)
    assert not ChatConversation.objects.exists()


def test_disabled_widget_refuses(world):
    widget = make_widget(world.org, world.admin)
    services.update_widget(widget=widget, actor=acting(world.admin), is_enabled=False, allowed_domains=["a.test"])
    widget.refresh_from_db()
    with pytest.raises(NotPermitted):
        start(widget)


def test_waiting_follows_visitor_messages_replies_and_resolution(world, clock):
    widget = make_widget(world.org, world.admin)
    conversation = start(widget).conversation
    ticket = conversation.ticket

    def waiting():
        conversation.refresh_from_db()
        return conversation.waiting_since is not None

    assert waiting()
    ticket_services.add_message(ticket=ticket, kind=MessageKind.NOTE, body="Je regarde.", actor=acting(world.agent))
    assert waiting()  # a note answers nobody
    ticket_services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Bonjour Vera !", actor=acting(world.agent))
    assert not waiting()
    clock.advance(minutes=1)
    services.post_visitor_message(conversation=conversation, body="Merci, et pour mars ?")
    assert waiting() and conversation.last_message_at == clock.now
    ticket_services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    assert not waiting()


def test_visitor_message_reopens_a_resolved_chat(world):
    widget = make_widget(world.org, world.admin)
    conversation = start(widget).conversation
    ticket_services.add_message(ticket=conversation.ticket, kind=MessageKind.REPLY, body="Voilà.",
                                actor=acting(world.agent), then_status=Status.RESOLVED)
    services.post_visitor_message(conversation=conversation, body="Finalement non.")
    assert Ticket.objects.get(pk=conversation.ticket_id).status == Status.OPEN


def test_messages_of_other_channels_do_not_touch_chats(world, django_assert_num_queries):
    """The inbox subscriber costs nothing on the email, form and manual channels."""
    from django.utils import timezone

    from tickets.pipeline import ChangeKind, TicketChange
    from tickets.subscribers import follow_chat_inbox

    with django_assert_num_queries(0):
        follow_chat_inbox(TicketChange(world.ticket, ChangeKind.MESSAGE, timezone.now(),
                                       message=world.ticket.messages.model(kind="customer")))


def test_inbox_puts_urgent_chats_first(world, clock):
    from tickets.chat.selectors import inbox

    widget = make_widget(world.org, world.admin)
    older = start(widget, email="premier@example.com").conversation
    clock.advance(minutes=1)
    newer = start(widget, email="second@example.com").conversation
    assert [c.pk for c in inbox(world.org)[0]] == [older.pk, newer.pk]  # oldest first
    ticket_services.set_priority(ticket=newer.ticket, priority="urgent", actor=acting(world.agent))
    assert [c.pk for c in inbox(world.org)[0]] == [newer.pk, older.pk]
