"""Chat widget test data, made through tickets.chat.services like the settings page and the widget do."""

from __future__ import annotations

import itertools
import secrets
from datetime import time, timedelta

from django.utils import timezone
from factories import acting, bulk_tickets

from lumiodesk.models import Plan
from sla import services as sla_services
from sla.models import BusinessHours
from tickets.chat import presence, services
from tickets.chat.models import ChatConversation, ChatWidget, ConversationMode
from tickets.models import Channel, Ticket

ORIGIN = "https://shop.acme.test"
_ips = itertools.count(1)


def make_widget(org, admin, *, domains=("shop.acme.test", "*.acme.test", "127.0.0.1"), plan=None) -> ChatWidget:
    if plan is not None:
        org.plan = plan
        org.save(update_fields=["plan"])
    widget = services.create_widget(organization=org, actor=acting(admin))
    return services.update_widget(widget=widget, actor=acting(admin), is_enabled=True, allowed_domains=list(domains))


def open_all_week(org) -> None:
    """Opening hours 00:00-24:00 every day: live chat depends only on the agents' presence."""
    sla_services.create_defaults(org.pk)
    BusinessHours.objects.filter(organization=org).update(is_open=True, opens=time(0, 0), closes=time(0, 0))


def closed_all_week(org) -> None:
    sla_services.create_defaults(org.pk)
    BusinessHours.objects.filter(organization=org).exclude(weekday=6).update(is_open=False)
    BusinessHours.objects.filter(organization=org, weekday=6).update(is_open=True, opens=time(9), closes=time(10))


def agent_here(org, user) -> None:
    presence.beat(org.pk, user.pk)


def nobody_here(org) -> None:
    presence.forget(org.pk)


def fresh_ip() -> str:
    """Rate limits count per IP in Redis for an hour: each test speaks from an address of its own."""
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def start(org_widget, **fields):
    data = {"name": "Vera Visiteur", "email": "vera@example.com", "message": "Bonjour, ma facture est fausse."}
    data.update(fields)
    return services.start_conversation(widget=org_widget, origin=ORIGIN, **data)


BUSINESS = Plan.BUSINESS


def bulk_chats(widget: ChatWidget, n: int, *, assignee=None) -> list[ChatConversation]:
    """``n`` chat conversations written in a few queries, for the query-count tests: every other one waits
    for an answer, the others were answered (ongoing); every third ticket assigned to ``assignee``."""
    org = widget.organization
    tickets = bulk_tickets(org, n, channel=Channel.CHAT)
    if assignee is not None:
        Ticket.objects.filter(pk__in=[t.pk for t in tickets[::3]]).update(assignee=assignee)
    now = timezone.now()
    return ChatConversation.objects.bulk_create(
        [
            ChatConversation(
                organization=org, widget=widget, ticket=ticket, visitor_key=secrets.token_hex(32),
                mode=ConversationMode.LIVE, origin=ORIGIN, waiting_since=ticket.created_at if i % 2 == 0 else None,
                last_message_at=now - timedelta(minutes=i), created_at=ticket.created_at,
            )
            for i, ticket in enumerate(tickets)
        ]
    )
