"""Reads of automations: the rules page, the ticket's journal, the webhook pages (each in fixed queries)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from billing.catalogue import Feature, Limit
from billing.services import LimitStatus, has_feature, limit_status, plan_of
from kb.models import Article
from kb.selectors import visible_articles
from lumiodesk import notifications
from lumiodesk.models import Organization, user_display_name
from tickets.email.models import Mailbox
from tickets.models import Ticket

from .models import AutomationRule, AutomationRun, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .rules import Act, Cond, Names, NotifyTo, describe_action, describe_condition, describe_trigger

User = get_user_model()


def names_for(organization: Organization, rules: Iterable[AutomationRule]) -> Names:
    """The names every rule of the page points at: at most four queries, whatever the number of rules."""
    users, mailboxes, articles, endpoints = set(), set(), set(), set()
    for rule in rules:
        for c in rule.conditions:
            if c.get("field") == Cond.ASSIGNEE and c.get("value") is not None:
                users.add(c["value"])
            elif c.get("field") == Cond.MAILBOX:
                mailboxes.add(c.get("value"))
        for a in rule.actions:
            kind = a.get("type")
            if kind == Act.ASSIGN or (kind == Act.NOTIFY and a.get("to") == NotifyTo.USER):
                users.add(a.get("user"))
            elif kind == Act.SUGGEST_ARTICLE:
                articles.add(a.get("article"))
            elif kind == Act.WEBHOOK:
                endpoints.add(a.get("endpoint"))
    names = Names()
    if users:
        names.users = {u.pk: user_display_name(u) for u in User.objects.filter(pk__in=users)}
    if mailboxes:
        names.mailboxes = dict(Mailbox.objects.filter(organization=organization, pk__in=mailboxes)
                               .values_list("id", "address"))
    if articles:
        names.articles = dict(Article.objects.filter(organization=organization, pk__in=articles)
                              .values_list("id", "title"))
    if endpoints:
        names.endpoints = dict(WebhookEndpoint.objects.filter(organization=organization, pk__in=endpoints)
                               .values_list("id", "url"))
    return names


@dataclass
class RuleRow:
    rule: AutomationRule
    trigger: str
    conditions: list[str]
    actions: list[str]
    over_limit: bool  # active, but beyond the plan's limit: kept, not evaluated
    last_run_at: datetime | None
    first: bool = False
    last: bool = False


@dataclass
class RulesPage:
    rows: list[RuleRow]
    usage: LimitStatus
    plan_name: str
    webhooks_allowed: bool
    over_limit: int = 0
    extra: dict = field(default_factory=dict)


def rules_page(organization: Organization) -> RulesPage:
    last_run = AutomationRun.objects.filter(rule_id=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    rules = list(
        AutomationRule.objects.filter(organization=organization).annotate(last_run_at=Subquery(last_run))
        .order_by("position", "id")
    )
    usage = limit_status(organization, Limit.ACTIVE_AUTOMATIONS)
    names = names_for(organization, rules)
    rows, active_seen = [], 0
    for rule in rules:
        if rule.is_active:
            active_seen += 1
        rows.append(RuleRow(
            rule=rule, trigger=describe_trigger(rule.events, rule.is_time_rule),
            conditions=[describe_condition(c, names) for c in rule.conditions],
            actions=[describe_action(a, names) for a in rule.actions],
            over_limit=rule.is_active and active_seen > usage.allowed, last_run_at=rule.last_run_at,
        ))
    if rows:
        rows[0].first, rows[-1].last = True, True
    return RulesPage(rows=rows, usage=usage, plan_name=plan_of(organization).name,
                     webhooks_allowed=has_feature(organization, Feature.WEBHOOKS),
                     over_limit=sum(1 for r in rows if r.over_limit))


def get_rule(organization: Organization, pk: int) -> AutomationRule | None:
    return AutomationRule.objects.filter(organization=organization, pk=pk).select_related("organization").first()


@dataclass
class FormChoices:
    """What the rule form offers: the team, mailboxes, public articles, webhook endpoints."""

    team: list[tuple[int, str]]
    mailboxes: list[tuple[int, str]]
    articles: list[tuple[int, str]]
    endpoints: list[tuple[int, str]]
    webhooks_allowed: bool


def form_choices(organization: Organization) -> FormChoices:
    team_ids = notifications.agents_of(organization.pk)
    team = [(u.pk, user_display_name(u)) for u in User.objects.filter(pk__in=team_ids).order_by("first_name", "email")]
    allowed = has_feature(organization, Feature.WEBHOOKS)
    return FormChoices(
        team=team,
        mailboxes=list(Mailbox.objects.filter(organization=organization).order_by("address")
                       .values_list("id", "address")),
        articles=list(visible_articles(organization).order_by("title").values_list("id", "title")),
        endpoints=list(WebhookEndpoint.objects.filter(organization=organization).order_by("created_at")
                       .values_list("id", "url")) if allowed else [],
        webhooks_allowed=allowed,
    )


def journal(ticket: Ticket, *, limit: int = 30) -> list[AutomationRun]:
    """The ticket's automation journal, newest first, in one query."""
    return list(
        AutomationRun.objects.filter(organization_id=ticket.organization_id, ticket_id=ticket.pk)
        .order_by("-created_at", "-id")[:limit]
    )


# --- webhooks ------------------------------------------------------------------------------------------------


def endpoints_of(organization: Organization) -> list[WebhookEndpoint]:
    last = WebhookDelivery.objects.filter(endpoint_id=OuterRef("pk")).order_by("-created_at", "-id")
    return list(
        WebhookEndpoint.objects.filter(organization=organization)
        .annotate(
            last_status=Subquery(last.values("status")[:1]),
            last_code=Subquery(last.values("last_status_code")[:1]),
            last_at=Subquery(last.values("created_at")[:1]),
        )
        .order_by("created_at", "id")
    )


def get_endpoint(organization: Organization, pk: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(organization=organization, pk=pk).select_related("organization").first()


def deliveries_of(endpoint: WebhookEndpoint, *, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries with every attempt (two queries)."""
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint).defer("body")
        .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number")))
        .order_by("-created_at", "-id")[:limit]
    )


def delivery_body(endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(endpoint=endpoint, pk=pk).first()


def pending_deliveries(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
