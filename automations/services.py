"""Every change to rules and webhook endpoints goes through these functions (Admins and Managers).

Each is atomic, checks the role and the plan, and writes its audit row in the same transaction.
``actor`` is a member (``rules.manage`` / ``webhooks.manage``) or the system (``seed_demo``, commands).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from billing.catalogue import Feature, Limit
from billing.services import has_feature, require_capacity, require_feature
from kb.selectors import visible_articles
from lumiodesk import audit, notifications
from lumiodesk.crypto import decrypt, encrypt
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization, user_display_name
from lumiodesk.permissions import Actor, require
from tickets.email.models import Mailbox

from . import webhooks
from .models import AutomationRule, DeliveryStatus, Match, Trigger, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .rules import Act, Cond, NotifyTo, References, RuleError, clean_rule

MAX_ENDPOINTS = 10
_LOCK_NAMESPACE = 0x6175746F  # "auto": the advisory lock of an organization's rules


def _lock_rules(organization: Organization) -> None:
    """Serialize changes to one organization's rules (positions, the count of active rules)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, organization.pk % 2**31])


def active_rule_count(organization: Organization) -> int:
    """The usage counter of ``Limit.ACTIVE_AUTOMATIONS`` (registered in ``AutomationsConfig.ready``)."""
    return AutomationRule.objects.filter(organization_id=organization.pk, is_active=True).count()


def references(organization: Organization) -> References:
    """What a rule of this organization may point at (four small queries)."""
    allowed = has_feature(organization, Feature.WEBHOOKS)
    return References(
        team=set(notifications.agents_of(organization.pk)),
        mailboxes=set(Mailbox.objects.filter(organization=organization).values_list("id", flat=True)),
        articles=set(visible_articles(organization).values_list("id", flat=True)),
        endpoints=set(WebhookEndpoint.objects.filter(organization=organization).values_list("id", flat=True))
        if allowed else set(),
        webhooks_allowed=allowed,
    )


def _clean(organization: Organization, *, name: str, events, match, conditions, actions):
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Donnez un nom à la règle."))
    if len(name) > 120:
        raise InvalidInput(_("Le nom ne peut dépasser 120 caractères."))
    try:
        clean = clean_rule(events=events, match=match, conditions=list(conditions), actions=list(actions),
                           refs=references(organization))
    except RuleError as exc:
        raise InvalidInput(str(exc)) from None
    return name, clean


def _name_taken(organization: Organization, name: str, exclude: int | None = None) -> bool:
    qs = AutomationRule.objects.filter(organization=organization, name__iexact=name)
    return qs.exclude(pk=exclude).exists() if exclude else qs.exists()


def _apply(rule: AutomationRule, name: str, clean) -> bool:
    """Set the cleaned fields; True if the time condition changed (the scan's cursor restarts)."""
    rule.name, rule.events, rule.match = name, clean.events, clean.match
    rule.conditions, rule.actions = clean.conditions, clean.actions
    time = clean.time or (None, None, None)
    changed = (rule.time_status, rule.time_amount, rule.time_unit) != time
    rule.time_status, rule.time_amount, rule.time_unit = time
    if changed:
        rule.scan_after_at = rule.scan_after_id = None
    return changed


@transaction.atomic
def create_rule(
    *, organization: Organization, actor: Actor, name: str, conditions: Sequence[dict], actions: Sequence[dict],
    events: Iterable[str] = (Trigger.CREATED,), match: str = Match.ALL, stop_after: bool = False,
    is_active: bool = True,
) -> AutomationRule:
    require(actor, "rules.manage", organization)
    name, clean = _clean(organization, name=name, events=events, match=match, conditions=conditions,
                         actions=actions)
    _lock_rules(organization)
    if _name_taken(organization, name):
        raise InvalidInput(_("Une règle porte déjà ce nom."))
    if is_active:
        require_capacity(organization, Limit.ACTIVE_AUTOMATIONS)
    position = (AutomationRule.objects.filter(organization=organization).aggregate(m=Max("position"))["m"])
    rule = AutomationRule(
        organization=organization, position=0 if position is None else position + 1, is_active=is_active,
        stop_after=stop_after, created_by=actor.user,
    )
    _apply(rule, name, clean)
    rule.save()
    audit.record(organization=organization, actor=actor.user, action="automation.rule.created", target_type="rule",
                 target_id=rule.pk, name=rule.name, active=is_active)
    return rule


@transaction.atomic
def update_rule(
    *, rule: AutomationRule, actor: Actor, name: str, conditions: Sequence[dict], actions: Sequence[dict],
    events: Iterable[str], match: str = Match.ALL, stop_after: bool = False, is_active: bool | None = None,
) -> AutomationRule:
    organization = rule.organization
    require(actor, "rules.manage", organization)
    name, clean = _clean(organization, name=name, events=events, match=match, conditions=conditions,
                         actions=actions)
    _lock_rules(organization)
    rule = AutomationRule.objects.select_for_update().get(pk=rule.pk)
    if _name_taken(organization, name, exclude=rule.pk):
        raise InvalidInput(_("Une règle porte déjà ce nom."))
    if is_active and not rule.is_active:
        require_capacity(organization, Limit.ACTIVE_AUTOMATIONS)
    if is_active is not None:
        rule.is_active = is_active
    _apply(rule, name, clean)
    rule.stop_after = stop_after
    rule.updated_at = timezone.now()
    rule.save()
    audit.record(organization=organization, actor=actor.user, action="automation.rule.updated", target_type="rule",
                 target_id=rule.pk, name=rule.name, active=rule.is_active)
    return rule


@transaction.atomic
def set_rule_active(*, rule: AutomationRule, actor: Actor, active: bool) -> AutomationRule:
    """Activate (within the plan's limit, whose message names it) or deactivate a rule."""
    organization = rule.organization
    require(actor, "rules.manage", organization)
    _lock_rules(organization)
    rule = AutomationRule.objects.select_for_update().select_related("organization").get(pk=rule.pk)
    if rule.is_active == active:
        return rule
    if active:
        require_capacity(organization, Limit.ACTIVE_AUTOMATIONS)
    rule.is_active = active
    rule.updated_at = timezone.now()
    rule.save(update_fields=["is_active", "updated_at"])
    audit.record(organization=organization, actor=actor.user, action="automation.rule.activated" if active else
                 "automation.rule.deactivated", target_type="rule", target_id=rule.pk, name=rule.name)
    return rule


@transaction.atomic
def delete_rule(*, rule: AutomationRule, actor: Actor) -> None:
    """The rule goes; its journal entries stay on the tickets (with the rule's name)."""
    organization = rule.organization
    require(actor, "rules.manage", organization)
    _lock_rules(organization)
    audit.record(organization=organization, actor=actor.user, action="automation.rule.deleted", target_type="rule",
                 target_id=rule.pk, name=rule.name)
    AutomationRule.objects.filter(pk=rule.pk).delete()
    _compact(organization)


def _compact(organization: Organization) -> None:
    """Positions 0..n-1 in the current order, in one UPDATE (the unique constraint is checked at commit)."""
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE automations_automationrule r SET position = o.rank - 1 FROM ("
            "  SELECT id, row_number() OVER (ORDER BY position, id) AS rank FROM automations_automationrule"
            "  WHERE organization_id = %s) o WHERE r.id = o.id AND r.position <> o.rank - 1",
            [organization.pk],
        )


@transaction.atomic
def reorder_rules(*, organization: Organization, actor: Actor, ordered_ids: Sequence[int]) -> None:
    """The new display and evaluation order (drag and drop): every rule of the organization, once."""
    require(actor, "rules.manage", organization)
    _lock_rules(organization)
    current = list(AutomationRule.objects.filter(organization=organization).order_by("position", "id")
                   .values_list("id", flat=True))
    wanted = [int(pk) for pk in ordered_ids]
    if sorted(wanted) != sorted(current) or len(set(wanted)) != len(wanted):
        raise InvalidInput(_("La liste des règles a changé entre-temps : rechargez la page."))
    if wanted == current:
        return
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE automations_automationrule r SET position = o.pos - 1, updated_at = %s "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS o(id, pos) "
            "WHERE r.id = o.id AND r.organization_id = %s",
            [timezone.now(), wanted, organization.pk],
        )
    audit.record(organization=organization, actor=actor.user, action="automation.rule.reordered", target_type="rule",
                 target_id=None, order=wanted)


@transaction.atomic
def move_rule(*, rule: AutomationRule, actor: Actor, offset: int) -> None:
    """One place up (-1) or down (+1): the keyboard alternative to drag and drop."""
    organization = rule.organization
    require(actor, "rules.manage", organization)
    _lock_rules(organization)
    ids = list(AutomationRule.objects.filter(organization=organization).order_by("position", "id")
               .values_list("id", flat=True))
    i = ids.index(rule.pk)
    j = i + (1 if offset > 0 else -1)
    if not 0 <= j < len(ids):
        return
    ids[i], ids[j] = ids[j], ids[i]
    reorder_rules(organization=organization, actor=actor, ordered_ids=ids)


# --- the four examples of section 7 ------------------------------------------------------------------------

PASSWORD_ARTICLE_SLUG = "reinitialiser-son-mot-de-passe"


def section7_examples(organization: Organization) -> list[dict]:
    """The documentation's examples, as written: subject contains "facture" -> tag "facturation"; customer on
    the Enterprise plan -> priority High; still New after 2 business hours -> notify the managers; contains
    "mot de passe" -> suggest the article "Réinitialiser son mot de passe" (if the knowledge base has it)."""
    examples = [
        {"name": _("Facturation : tag facturation"), "events": [Trigger.CREATED],
         "conditions": [{"field": Cond.SUBJECT, "op": "contains", "value": "facture"}],
         "actions": [{"type": Act.ADD_TAG, "tag": "facturation"}]},
        {"name": _("Clients Enterprise : priorité haute"), "events": [Trigger.CREATED],
         "conditions": [{"field": Cond.CUSTOMER, "key": "plan", "op": "equals", "value": "Enterprise"}],
         "actions": [{"type": Act.SET_PRIORITY, "priority": "high"}]},
        {"name": _("Nouveau depuis 2 heures ouvrées : prévenir les managers"), "events": [],
         "conditions": [{"field": Cond.STATUS_FOR, "status": "new", "amount": 2, "unit": "hours"}],
         "actions": [{"type": Act.NOTIFY, "to": NotifyTo.MANAGERS,
                      "message": _("Ce ticket est toujours Nouveau après 2 heures ouvrées.")}]},
    ]
    article = visible_articles(organization).filter(slug=PASSWORD_ARTICLE_SLUG).first() or (
        visible_articles(organization).filter(title__iexact="Réinitialiser son mot de passe").first()
    )
    if article is not None:
        examples.append(
            {"name": _("Mot de passe : proposer l'article"), "events": [Trigger.CREATED, Trigger.CUSTOMER_REPLIED],
             "conditions": [{"field": Cond.TEXT, "op": "contains", "value": "mot de passe"}],
             "actions": [{"type": Act.SUGGEST_ARTICLE, "article": article.pk}]}
        )
    return examples


@transaction.atomic
def install_section7_examples(*, organization: Organization, actor: Actor) -> list[AutomationRule]:
    """Create the section 7 examples as active rules, once (a rule of the same name is left as it is).
    Named in the organization's language, whoever runs it."""
    created = []
    with override(organization.language):
        examples = section7_examples(organization)
    for example in examples:
        if _name_taken(organization, example["name"]):
            continue
        created.append(create_rule(organization=organization, actor=actor, is_active=True, **example))
    return created


# --- webhook endpoints -------------------------------------------------------------------------------------


def _clean_events(events: Iterable[str]) -> list[str]:
    wanted = set(events)
    unknown = wanted - set(WebhookEvent.values)
    if unknown:
        raise InvalidInput(_("Événement inconnu : %(e)s") % {"e": ", ".join(sorted(unknown))})
    return [e for e in WebhookEvent.values if e in wanted]


@transaction.atomic
def create_endpoint(
    *, organization: Organization, actor: Actor, url: str, events: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (stored encrypted; shown on the endpoint's page)."""
    require(actor, "webhooks.manage", organization)
    require_feature(organization, Feature.WEBHOOKS)
    url = webhooks.validate_url(url)
    if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS:
        raise InvalidInput(_("%(n)s endpoints au plus par organisation.") % {"n": MAX_ENDPOINTS})
    secret = webhooks.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=url, events=_clean_events(events), description=(description or "")[:200],
        secret_encrypted=encrypt(secret), created_by=actor.user,
    )
    audit.record(organization=organization, actor=actor.user, action="webhook.created", target_type="webhook",
                 target_id=endpoint.pk, url=url, events=endpoint.events)
    return endpoint, secret


@transaction.atomic
def update_endpoint(
    *, endpoint: WebhookEndpoint, actor: Actor, url: str, events: Iterable[str], description: str = ""
) -> WebhookEndpoint:
    organization = endpoint.organization
    require(actor, "webhooks.manage", organization)
    require_feature(organization, Feature.WEBHOOKS)
    endpoint.url = webhooks.validate_url(url)
    endpoint.events = _clean_events(events)
    endpoint.description = (description or "")[:200]
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=["url", "events", "description", "updated_at"])
    audit.record(organization=organization, actor=actor.user, action="webhook.updated", target_type="webhook",
                 target_id=endpoint.pk, url=endpoint.url, events=endpoint.events)
    return endpoint


@transaction.atomic
def rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor) -> str:
    require(actor, "webhooks.manage", endpoint.organization)
    secret = webhooks.new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=encrypt(secret), updated_at=timezone.now())
    endpoint.refresh_from_db(fields=["secret_encrypted", "updated_at"])
    audit.record(organization=endpoint.organization, actor=actor.user, action="webhook.secret_rotated",
                 target_type="webhook", target_id=endpoint.pk)
    return secret


def secret_of(endpoint: WebhookEndpoint) -> str:
    return decrypt(endpoint.secret_encrypted)


@transaction.atomic
def set_endpoint_active(*, endpoint: WebhookEndpoint, actor: Actor, active: bool) -> WebhookEndpoint:
    """Re-enabling starts afresh: new events are delivered (those cancelled while disabled are not resent)."""
    organization = endpoint.organization
    require(actor, "webhooks.manage", organization)
    if active:
        require_feature(organization, Feature.WEBHOOKS)
    now = timezone.now()
    if active:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=True, disabled_at=None, disabled_reason="",
                                                             updated_at=now)
    else:
        with override(organization.language):
            who = user_display_name(actor.user) if actor.user else "?"
            reason = _("désactivé par %(who)s") % {"who": who}
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, disabled_at=now,
                                                             disabled_reason=reason[:300], updated_at=now)
        WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING, is_test=False).update(
            status=DeliveryStatus.CANCELLED, next_attempt_at=None, claimed_until=None, last_error=reason[:500])
    endpoint.refresh_from_db()
    audit.record(organization=organization, actor=actor.user,
                 action="webhook.enabled" if active else "webhook.disabled",
                 target_type="webhook", target_id=endpoint.pk, url=endpoint.url)
    return endpoint


@transaction.atomic
def delete_endpoint(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    organization = endpoint.organization
    require(actor, "webhooks.manage", organization)
    audit.record(organization=organization, actor=actor.user, action="webhook.deleted", target_type="webhook",
                 target_id=endpoint.pk, url=endpoint.url)
    endpoint.delete()


@transaction.atomic
def send_test_event(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """One ``webhook.test`` delivery, sent by Celery after the commit (tried once, never disables)."""
    require(actor, "webhooks.manage", endpoint.organization)
    require_feature(endpoint.organization, Feature.WEBHOOKS)
    return webhooks.test_delivery(endpoint)



# --- billing: the rules a smaller plan does not hold (registered in billing.usage by AutomationsConfig) -------


def active_rules_for_choice(organization: Organization) -> list[tuple[int, str]]:
    return list(AutomationRule.objects.filter(organization=organization, is_active=True)
                .order_by("position").values_list("pk", "name"))


def deactivate_rules(organization: Organization, ids: list[int], actor: Actor) -> None:
    """Deactivate the rules the Admin chose when moving to a plan with fewer active rules (each audited)."""
    for rule in AutomationRule.objects.filter(organization=organization, pk__in=ids, is_active=True):
        set_rule_active(rule=rule, actor=actor, active=False)
