"""The API's endpoints: parse, load within the key's organization, call the service, answer.

Every change goes through the services the console uses (``tickets.services``, ``kb.services``); the reads
through the console's selectors or a query scoped to the key's organization (another organization's id is
a 404).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes
from rest_framework.response import Response

from crm import services as crm_services
from crm.models import Company, Customer
from kb import services as kb_services
from kb.models import Article, ArticleStatus, Collection
from lumiodesk.access import public

from .. import selectors, services
from ..costs import selectors as cost_selectors
from ..models import Channel, Message, MessageKind, Tag
from ..portal.models import SatisfactionRating
from ..selectors import TicketFilters
from . import pagination
from .base import IDEMPOTENCY_HEADER, ApiView
from .errors import ERROR_SCHEMA, ApiError
from .idempotency import idempotent
from .serializers import (
    ArticleSerializer,
    ArticleWriteSerializer,
    CompanySerializer,
    CustomerCreateSerializer,
    CustomerSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    SatisfactionSerializer,
    TagSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
    TimeEntrySerializer,
    ticket_row,
    time_entry_row,
)

User = get_user_model()

ERRORS = {code: OpenApiResponse(ERROR_SCHEMA, description=text) for code, text in (
    (400, "Invalid input"), (401, "Missing or invalid key"), (403, "Plan, role or read-only organization"),
    (404, "Not found in the key's organization"), (409, "Not allowed in the current state"),
    (422, "Idempotency key reused with another request"), (429, "Rate limit reached"),
)}
READ_ERRORS = {code: ERRORS[code] for code in (400, 401, 403, 404, 429)}


def _page_serializer(name: str, item):
    return inline_serializer(name, {
        "results": item(many=True), "next_cursor": serializers.CharField(allow_null=True),
        "next": serializers.URLField(allow_null=True),
    })


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- tickets ----------------------------------------------------------------------------------------------

TICKET_FILTERS = [
    OpenApiParameter("status", str, description="new, open, waiting_customer, waiting_internal, resolved, closed, "
                                                "or in_progress"),
    OpenApiParameter("priority", str, enum=["low", "normal", "high", "urgent"]),
    OpenApiParameter("assignee", str, description="`me` (the key's creator), `none`, or a user id"),
    OpenApiParameter("tag", str), OpenApiParameter("customer", int),
    OpenApiParameter("q", str, description="Full-text search, as in the console"),
    OpenApiParameter("sla", str, enum=["overdue", "due_soon"]),
    OpenApiParameter("automatic", str, enum=["0", "1"]),
]
TICKET_KEY = ("is_urgent", "created_at", "id")  # the console's order: urgent first, newest first


def _ticket(view: ApiView, number: int):
    ticket = selectors.get_ticket(view.organization, number)
    if ticket is None:
        raise Http404("ticket")
    return ticket


def _detail(view: ApiView, ticket) -> dict:
    ticket = selectors.api_ticket(ticket.organization, ticket.number)
    totals = cost_selectors.ticket_time_totals(ticket)
    ticket.api_time_total = {"minutes": totals["minutes"], "entries": totals["entries"],
                             "cost": totals["cost"] if view.actor.can("costs.view") else None}
    return TicketDetailSerializer(ticket).data


def _member(view: ApiView, user_id: int | None):
    """The user ``user_id`` (the service checks they are an active member who may be assigned)."""
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise ApiError("invalid_input", _("Cette personne n'est pas membre de l'organisation."))
    return user


class TicketListView(ApiView):
    capabilities = {"GET": "tickets.view", "POST": "tickets.create"}

    @extend_schema(parameters=[*TICKET_FILTERS, *pagination.PARAMETERS],
                   operation_id="tickets_list",
                   responses={200: _page_serializer("TicketPage", TicketSerializer), **READ_ERRORS})
    def get(self, request):
        filters = TicketFilters.from_params(request.query_params)
        if filters.errors:
            raise ApiError("invalid_filter", _("Filtre inconnu : %(v)s.") % {"v": ", ".join(filters.errors)})
        qs = selectors.ticket_list(self.organization, filters, user=self.actor.user)
        return Response(pagination.paginate(request, qs, TICKET_KEY, lambda rows: [ticket_row(t) for t in rows]))

    @extend_schema(request=TicketCreateSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: TicketDetailSerializer, **ERRORS})
    def post(self, request):
        data = _valid(TicketCreateSerializer, request.data)
        assignee = _member(self, data["assignee_id"])

        def produce():
            ticket = services.create_ticket_for_contact(
                organization=self.organization, email=data["customer_email"], name=data["customer_name"],
                subject=data["subject"], body=data["body"], priority=data["priority"], tags=data["tags"],
                assignee=assignee, channel=Channel.API, actor=self.actor,
            )
            return 201, _detail(self, ticket)

        return idempotent(request, self.organization, produce)


class TicketDetailView(ApiView):
    capabilities = {"GET": "tickets.view", "PATCH": "tickets.view"}  # each change asks its own capability

    @extend_schema(responses={200: TicketDetailSerializer, **READ_ERRORS})
    def get(self, request, number: int):
        return Response(_detail(self, _ticket(self, number)))

    @extend_schema(request=TicketUpdateSerializer, responses={200: TicketDetailSerializer, **ERRORS})
    def patch(self, request, number: int):
        ticket = _ticket(self, number)
        data = _valid(TicketUpdateSerializer, request.data)
        assignee = _member(self, data["assignee_id"]) if "assignee_id" in data else None
        with transaction.atomic():  # all the changes asked, or none
            if "status" in data:
                ticket = services.change_status(ticket=ticket, status=data["status"], actor=self.actor)
            if "priority" in data:
                ticket = services.set_priority(ticket=ticket, priority=data["priority"], actor=self.actor)
            if "assignee_id" in data:
                ticket = services.assign(ticket=ticket, assignee=assignee, actor=self.actor)
            if "tags" in data:
                ticket = services.set_tags(ticket=ticket, names=data["tags"], actor=self.actor)
        return Response(_detail(self, ticket))


class _MessageView(ApiView):
    kind = MessageKind.REPLY

    def post(self, request, number: int):
        ticket = _ticket(self, number)
        data = _valid(MessageCreateSerializer, request.data)

        def produce():
            message = services.add_message(ticket=ticket, kind=self.kind, body=data["body"], actor=self.actor,
                                           then_status=data["then_status"])
            message = Message.objects.select_related("author_user", "author_customer").get(pk=message.pk)
            return 201, MessageSerializer(message).data

        return idempotent(request, self.organization, produce)


class TicketReplyView(_MessageView):
    capabilities = {"POST": "tickets.reply"}
    kind = MessageKind.REPLY

    @extend_schema(request=MessageCreateSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: MessageSerializer, **ERRORS}, summary="Reply to the customer")
    def post(self, request, number: int):
        return super().post(request, number)


class TicketNoteView(_MessageView):
    capabilities = {"POST": "tickets.note"}
    kind = MessageKind.NOTE

    @extend_schema(request=MessageCreateSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: MessageSerializer, **ERRORS}, summary="Add an internal note")
    def post(self, request, number: int):
        return super().post(request, number)


# --- customers, companies, tags, satisfaction (read) ---------------------------------------------------------


class CustomerListView(ApiView):
    capabilities = {"GET": "tickets.view", "POST": "tickets.create"}

    @extend_schema(parameters=[OpenApiParameter("email", str), *pagination.PARAMETERS],
                   operation_id="customers_list",
                   responses={200: _page_serializer("CustomerPage", CustomerSerializer), **READ_ERRORS})
    def get(self, request):
        qs = Customer.objects.filter(organization=self.organization).select_related("company")
        email = (request.query_params.get("email") or "").strip()
        if email:
            qs = qs.with_email(email)
        return Response(pagination.paginate(request, qs, ("id",), lambda r: CustomerSerializer(r, many=True).data))

    @extend_schema(request=CustomerCreateSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: CustomerSerializer, 200: CustomerSerializer, **ERRORS},
                   summary="Add a customer (200 with the existing one for a known email)")
    def post(self, request):
        data = _valid(CustomerCreateSerializer, request.data)

        def produce():
            customer, created = crm_services.add_customer(
                actor=self.actor, organization=self.organization, email=data["email"], name=data["name"],
                company_name=data["company_name"],
            )
            customer = Customer.objects.select_related("company").get(pk=customer.pk)
            return (201 if created else 200), CustomerSerializer(customer).data

        return idempotent(request, self.organization, produce)


class CustomerDetailView(ApiView):
    capabilities = {"GET": "tickets.view"}

    @extend_schema(responses={200: CustomerSerializer, **READ_ERRORS})
    def get(self, request, pk: int):
        customer = Customer.objects.filter(organization=self.organization, pk=pk).select_related("company").first()
        if customer is None:
            raise Http404("customer")
        return Response(CustomerSerializer(customer).data)


class CompanyListView(ApiView):
    capabilities = {"GET": "tickets.view"}

    @extend_schema(parameters=pagination.PARAMETERS,
                   operation_id="companies_list",
                   responses={200: _page_serializer("CompanyPage", CompanySerializer), **READ_ERRORS})
    def get(self, request):
        qs = Company.objects.filter(organization=self.organization)
        return Response(pagination.paginate(request, qs, ("id",), lambda r: CompanySerializer(r, many=True).data))


class CompanyDetailView(ApiView):
    capabilities = {"GET": "tickets.view"}

    @extend_schema(responses={200: CompanySerializer, **READ_ERRORS})
    def get(self, request, pk: int):
        company = Company.objects.filter(organization=self.organization, pk=pk).first()
        if company is None:
            raise Http404("company")
        return Response(CompanySerializer(company).data)


class TagListView(ApiView):
    capabilities = {"GET": "tickets.view"}

    @extend_schema(parameters=pagination.PARAMETERS,
                   operation_id="tags_list",
                   responses={200: _page_serializer("TagPage", TagSerializer), **READ_ERRORS})
    def get(self, request):
        qs = Tag.objects.filter(organization=self.organization)
        return Response(pagination.paginate(request, qs, ("id",), lambda r: TagSerializer(r, many=True).data))


class SatisfactionListView(ApiView):
    capabilities = {"GET": "tickets.view"}

    @extend_schema(parameters=pagination.PARAMETERS,
                   operation_id="satisfaction_list",
                   responses={200: _page_serializer("SatisfactionPage", SatisfactionSerializer), **READ_ERRORS})
    def get(self, request):
        qs = SatisfactionRating.objects.filter(organization=self.organization).select_related("ticket")
        return Response(pagination.paginate(request, qs, ("id",),
                                            lambda r: SatisfactionSerializer(r, many=True).data))


# --- time entries (read) -----------------------------------------------------------------------------------


def _int_param(request, name: str) -> int | None:
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or not 0 < int(raw) < 2**31:
        raise ApiError("invalid_filter", _("Filtre inconnu : %(v)s.") % {"v": f"{name}={raw}"})
    return int(raw)


def _date_param(request, name: str):
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = parse_date(raw)
    except ValueError:
        value = None
    if value is None:
        raise ApiError("invalid_filter", _("Filtre inconnu : %(v)s.") % {"v": f"{name}={raw}"})
    return value


class TimeEntryListView(ApiView):
    """Time logged on the organization's tickets. Euro amounts (rate, cost) follow the console: only roles with
    ``costs.view`` (Admins, Managers, Viewers) read them; for the others (Agents) they are null."""

    capabilities = {"GET": "tickets.view"}

    @extend_schema(parameters=[
        OpenApiParameter("ticket", int, description="A ticket's number"),
        OpenApiParameter("user", int, description="The agent's user id"),
        OpenApiParameter("date_from", OpenApiTypes.DATE, description="Entries on or after this date (YYYY-MM-DD)"),
        OpenApiParameter("date_to", OpenApiTypes.DATE, description="Entries on or before this date (YYYY-MM-DD)"),
        *pagination.PARAMETERS,
    ], operation_id="time_entries_list",
        responses={200: _page_serializer("TimeEntryPage", TimeEntrySerializer), **READ_ERRORS})
    def get(self, request):
        qs = cost_selectors.api_entries(
            self.organization.pk, ticket_number=_int_param(request, "ticket"), user_id=_int_param(request, "user"),
            start=_date_param(request, "date_from"), end=_date_param(request, "date_to"),
        )
        with_cost = self.actor.can("costs.view")
        return Response(pagination.paginate(request, qs, ("id",),
                                            lambda rows: [time_entry_row(e, with_cost=with_cost) for e in rows]))


# --- articles: read; create and update drafts ------------------------------------------------------------


def _collection(view: ApiView, collection_id: int | None):
    if collection_id is None:
        return None
    collection = Collection.objects.filter(organization=view.organization, pk=collection_id).first()
    if collection is None:
        raise ApiError("invalid_input", _("Cette collection n'existe pas dans votre organisation."))
    return collection


class ArticleListView(ApiView):
    capabilities = {"GET": "kb.view", "POST": "kb.edit"}

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=ArticleStatus.values), *pagination.PARAMETERS],
                   operation_id="articles_list",
                   responses={200: _page_serializer("ArticlePage", ArticleSerializer), **READ_ERRORS})
    def get(self, request):
        qs = Article.objects.filter(organization=self.organization)
        status = request.query_params.get("status") or ""
        if status:
            if status not in ArticleStatus.values:
                raise ApiError("invalid_filter", _("Filtre inconnu : %(v)s.") % {"v": status})
            qs = qs.filter(status=status)
        return Response(pagination.paginate(request, qs, ("id",), lambda r: ArticleSerializer(r, many=True).data))

    @extend_schema(request=ArticleWriteSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: ArticleSerializer, **ERRORS}, summary="Create a draft article")
    def post(self, request):
        data = _valid(ArticleWriteSerializer, request.data)
        collection = _collection(self, data.get("collection_id"))

        def produce():
            article = kb_services.create_article(
                actor=self.actor, organization=self.organization, title=data["title"], body=data["body"],
                collection=collection, language=data.get("language"), audience=data.get("audience", "public"),
            )
            return 201, ArticleSerializer(article).data

        return idempotent(request, self.organization, produce)


class ArticleDetailView(ApiView):
    capabilities = {"GET": "kb.view", "PATCH": "kb.edit"}

    def _article(self, pk: int) -> Article:
        article = Article.objects.filter(organization=self.organization, pk=pk).first()
        if article is None:
            raise Http404("article")
        return article

    @extend_schema(responses={200: ArticleSerializer, **READ_ERRORS})
    def get(self, request, pk: int):
        return Response(ArticleSerializer(self._article(pk)).data)

    @extend_schema(request=ArticleWriteSerializer(partial=True), responses={200: ArticleSerializer, **ERRORS},
                   summary="Update a draft article")
    def patch(self, request, pk: int):
        article = self._article(pk)
        serializer = ArticleWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        collection = _collection(self, data["collection_id"]) if "collection_id" in data else article.collection
        article = kb_services.update_article(
            actor=self.actor, article=article, title=data.get("title", article.title),
            body=data.get("body", article.body), collection=collection, language=data.get("language"),
            audience=data.get("audience"), drafts_only=True,  # publishing stays in the console, where it is reviewed
        )
        return Response(ArticleSerializer(article).data)


@public
@extend_schema(exclude=True)
@api_view(["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
def not_found(request, *args, **kwargs):
    """Any other URL under /api/: the API's 404, in its JSON shape (not the site's HTML page)."""
    raise Http404("api")
