"""What the API reads and writes: plain DRF serializers (they also describe the OpenAPI schema).

Output serializers read model instances loaded by the views' selectors; input serializers only check the
shape of a request: the rules are the services'.
"""

from __future__ import annotations

from rest_framework import serializers

from kb.models import ArticleStatus, Audience
from lumiodesk.models import user_display_name

from ..models import Message, MessageKind, Priority, Status, Ticket


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "email": user.email, "name": user_display_name(user)}


class CompanyRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CompanySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()
    created_at = serializers.DateTimeField()


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    company = CompanyRefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()


class CustomerCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    company_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()


class TagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TicketSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    priority = serializers.ChoiceField(choices=Priority.choices)
    channel = serializers.CharField()
    customer = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    imported = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_customer(self, ticket: Ticket) -> CustomerRefSerializer:
        c = ticket.customer
        return {"id": c.pk, "email": c.email, "name": c.display_name}

    def get_assignee(self, ticket: Ticket) -> PersonSerializer(allow_null=True):
        return _person(ticket.assignee)

    def get_tags(self, ticket: Ticket) -> list[str]:
        return sorted(t.name for t in ticket.tags.all())  # prefetched by the selector


def _when(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def ticket_row(ticket: Ticket) -> dict:
    """What ``TicketSerializer`` describes, built directly: the list answers up to 100 of these, and DRF's
    field-by-field serialization cost more than the query (the contract test holds the two together)."""
    c = ticket.customer
    return {
        "number": ticket.number, "subject": ticket.subject, "status": ticket.status, "priority": ticket.priority,
        "channel": ticket.channel,
        "customer": {"id": c.pk, "email": c.email, "name": c.display_name},
        "assignee": _person(ticket.assignee), "tags": sorted(t.name for t in ticket.tags.all()),
        "imported": ticket.imported, "created_at": _when(ticket.created_at), "updated_at": _when(ticket.updated_at),
        "first_response_at": _when(ticket.first_response_at), "resolved_at": _when(ticket.resolved_at),
        "closed_at": _when(ticket.closed_at),
    }


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=MessageKind.choices)
    channel = serializers.CharField()
    author = serializers.SerializerMethodField()
    body_text = serializers.CharField()
    body_html = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_author(self, message: Message) -> PersonSerializer(allow_null=True):
        if message.author_customer is not None:
            c = message.author_customer
            return {"id": c.pk, "email": c.email, "name": c.display_name}
        return _person(message.author_user)


class TimeTotalSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(help_text="Stopped entries' minutes (a running timer counts when it stops).")
    entries = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True,
                                    help_text="EUR; null unless the key's role may see costs (`costs.view`).")


class TicketDetailSerializer(TicketSerializer):
    messages = MessageSerializer(many=True)
    time = TimeTotalSerializer(source="api_time_total")


class TicketCreateSerializer(serializers.Serializer):
    customer_email = serializers.EmailField()
    customer_name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    subject = serializers.CharField(max_length=255)
    body = serializers.CharField(max_length=100_000)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list,
                                 max_length=20)
    assignee_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class TicketUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20)


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=100_000)
    then_status = serializers.ChoiceField(choices=Status.choices, required=False, allow_null=True, default=None)


class ArticleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()
    language = serializers.CharField()
    status = serializers.ChoiceField(choices=ArticleStatus.choices)
    audience = serializers.ChoiceField(choices=Audience.choices)
    collection_id = serializers.IntegerField(allow_null=True)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)


class ArticleWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=200_000, allow_blank=True)
    language = serializers.CharField(required=False, max_length=8)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    collection_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class SatisfactionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ticket_number = serializers.IntegerField(source="ticket.number")
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField()
    agent_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TimeEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ticket_number = serializers.IntegerField()
    user = PersonSerializer()
    date = serializers.DateField()
    minutes = serializers.IntegerField()
    running = serializers.BooleanField()
    note = serializers.CharField()
    rate = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True,
                                    help_text="EUR/h; null unless the key's role may see costs (`costs.view`).")
    cost = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True,
                                    help_text="EUR; null unless the key's role may see costs (`costs.view`).")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def time_entry_row(entry, *, with_cost: bool) -> dict:
    """What ``TimeEntrySerializer`` describes, built directly (as ``ticket_row``). Without ``with_cost`` (a
    role without ``costs.view``: Agents) the euro amounts are null, as the console hides them."""
    return {
        "id": entry.pk, "ticket_number": entry.ticket.number, "user": _person(entry.user),
        "date": entry.date.isoformat(), "minutes": entry.minutes, "running": entry.running, "note": entry.note,
        "rate": f"{entry.rate:.2f}" if with_cost else None, "cost": f"{entry.cost:.2f}" if with_cost else None,
        "created_at": _when(entry.created_at), "updated_at": _when(entry.updated_at),
    }
