"""Reads of the chat widget: the visitor's conversation and messages, the console's chat inbox.
Each function is a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from lumiodesk.models import Organization

from ..models import Message, MessageKind, Status, Ticket
from .models import ChatConversation, ChatWidget

MAX_POLLED = 200
INBOX_SIZE = 50
DONE = (Status.RESOLVED, Status.CLOSED)


def widget_by_workspace(workspace_id: str) -> ChatWidget | None:
    """The widget of a public workspace id, with its organization (one query)."""
    if not workspace_id or len(workspace_id) > 32:
        return None
    return ChatWidget.objects.select_related("organization").filter(workspace_id=workspace_id).first()


def widget_of(organization: Organization) -> ChatWidget | None:
    return ChatWidget.objects.filter(organization=organization).first()


def conversation_for(widget: ChatWidget, key: str) -> ChatConversation | None:
    """The conversation of this visitor key *in this widget*: another workspace's token finds nothing."""
    if not key:
        return None
    conversation = (
        ChatConversation.objects.select_related("ticket")
        .defer("ticket__search_vector")
        .filter(widget=widget, visitor_key=key)
        .first()
    )
    if conversation is not None:
        conversation.widget = widget
        conversation.ticket.organization = widget.organization
    return conversation


def visitor_messages(conversation: ChatConversation, *, after: int = 0) -> list[Message]:
    """What the visitor may see, after message ``after``: their messages and public replies, never notes."""
    return list(
        Message.objects.filter(ticket_id=conversation.ticket_id, id__gt=after)
        .exclude(kind=MessageKind.NOTE)
        .select_related("author_user")
        .only("id", "kind", "body_text", "created_at", "author_user__first_name", "author_user__last_name",
              "author_user__email")
        .order_by("id")[:MAX_POLLED]
    )


def waiting_count(organization: Organization) -> int:
    return ChatConversation.objects.filter(organization=organization, waiting_since__isnull=False).count()


def _last_text():
    return Subquery(
        Message.objects.filter(ticket_id=OuterRef("ticket_id")).exclude(kind=MessageKind.NOTE)
        .order_by("-created_at", "-id").values("body_text")[:1]
    )


def inbox(organization: Organization) -> tuple[list[ChatConversation], list[ChatConversation]]:
    """(waiting for an answer, urgent then oldest first; other ongoing chats, urgent then latest first) — two
    queries."""
    base = ChatConversation.objects.select_related("ticket", "ticket__customer", "ticket__assignee").defer(
        "ticket__search_vector"
    ).annotate(last_text=_last_text())
    waiting = list(base.filter(organization=organization, waiting_since__isnull=False)
                   .order_by("-ticket__is_urgent", "waiting_since", "id")[:INBOX_SIZE])
    ongoing = list(
        base.filter(organization=organization, waiting_since__isnull=True)
        .exclude(ticket__status__in=DONE)
        .order_by("-ticket__is_urgent", "-last_message_at", "-id")[:INBOX_SIZE]
    )
    return waiting, ongoing


def has_messages_after(ticket: Ticket, after: int) -> int | None:
    """The newest message id of the ticket if newer than ``after`` (any kind: agents see notes too)."""
    last = Message.objects.filter(ticket=ticket, id__gt=after).order_by("-id").values_list("id", flat=True).first()
    return last
