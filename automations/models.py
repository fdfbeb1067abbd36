"""Automation rules, their journal on each ticket, time-rule episodes, webhook endpoints and deliveries.

Conditions and actions are stored as validated JSON lists on the rule, not as child rows:

- a rule is always read, edited and evaluated as a whole: the engine loads every active rule of an
  organization in ONE query (100 rules on Scale) instead of joining two child tables;
- conditions and actions are ordered, heterogeneous lists (a text, a status, an amount of business time,
  a customer field and its value...): child rows would need a nullable column per kind of parameter;
- nothing ever filters on one condition in SQL, except the time-rule scan, which reads the one time
  condition from columns the service copies out of the JSON (``time_status``, ``time_amount``, ``time_unit``).

The JSON is validated by ``automations.rules`` (the only writer is ``automations.services``), and
``CheckConstraint``s keep it a list. References inside it (an agent, an article, a mailbox, a webhook
endpoint) are checked when the rule is saved and again when an action runs: an agent who left, an
archived article or a disabled endpoint makes the action *skipped*, with the reason in the journal.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization


class JsonType(models.Func):
    function = "jsonb_typeof"
    output_field = models.CharField()


class Trigger(models.TextChoices):
    """What makes a rule look at a ticket (``events`` of a rule; ``trigger`` of a journal entry)."""

    CREATED = "created", _("Création du ticket")
    UPDATED = "updated", _("Mise à jour du ticket")
    CUSTOMER_REPLIED = "customer_replied", _("Réponse du client")
    TIME = "time", _("Délai écoulé (vérifié chaque minute)")


EVENT_TRIGGERS = (Trigger.CREATED, Trigger.UPDATED, Trigger.CUSTOMER_REPLIED)


class Match(models.TextChoices):
    ALL = "all", _("toutes les conditions")
    ANY = "any", _("au moins une condition")


class AutomationRule(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=120)
    # Display and evaluation order (0 first); unique per organization, checked at commit so a reorder is one UPDATE.
    position = models.PositiveIntegerField(_("position"))
    is_active = models.BooleanField(_("active"), default=True)
    events = ArrayField(models.CharField(max_length=20, choices=Trigger.choices), default=list, blank=True)
    match = models.CharField(_("conditions à remplir"), max_length=3, choices=Match.choices, default=Match.ALL)
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    actions = models.JSONField(_("actions"), default=list)
    stop_after = models.BooleanField(_("stopper après cette règle"), default=False)

    # The time condition ("still New after 2 business hours"), copied out of ``conditions`` for the scan.
    time_status = models.CharField(max_length=20, null=True, blank=True, editable=False)
    time_amount = models.PositiveIntegerField(null=True, blank=True, editable=False)
    time_unit = models.CharField(max_length=10, null=True, blank=True, editable=False)
    # Where the scan got to: tickets are looked at in (status_changed_at, id) order, each episode once.
    scan_after_at = models.DateTimeField(null=True, blank=True, editable=False)
    scan_after_id = models.BigIntegerField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("règle d'automatisation")
        verbose_name_plural = _("règles d'automatisation")
        ordering = ["organization", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "position"], name="automationrule_unique_position",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.UniqueConstraint("organization", Lower("name"), name="automationrule_unique_name"),
            models.CheckConstraint(condition=~models.Q(name=""), name="automationrule_name_not_empty"),
            models.CheckConstraint(condition=models.Q(match__in=Match.values), name="automationrule_match_valid"),
            models.CheckConstraint(
                condition=models.lookups.Exact(JsonType("conditions"), "array"), name="automationrule_conditions_list"
            ),
            models.CheckConstraint(
                condition=models.lookups.Exact(JsonType("actions"), "array"), name="automationrule_actions_list"
            ),
            models.CheckConstraint(
                condition=models.Q(time_status__isnull=True, time_amount__isnull=True, time_unit__isnull=True)
                | models.Q(time_status__isnull=False, time_amount__gt=0, time_unit__isnull=False),
                name="automationrule_time_condition_whole",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "position"], name="automationrule_active_idx",
                         condition=models.Q(is_active=True)),
            # The time-rule scan: the few active rules with a time condition, across organizations.
            models.Index(fields=["organization", "position"], name="automationrule_timed_idx",
                         condition=models.Q(is_active=True, time_status__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_time_rule(self) -> bool:
        return self.time_status is not None


class Outcome(models.TextChoices):
    DONE = "done", _("exécutée")
    SKIPPED = "skipped", _("ignorée")
    FAILED = "failed", _("en erreur")


class AutomationRun(models.Model):
    """One rule that matched one ticket: the journal of section 14.

    ``actions`` lists what the rule did, in order: ``{"type", "label", "outcome", "detail"}`` with the
    label and the reason written in the organization's language when the rule ran.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(AutomationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    rule_name = models.CharField(max_length=120)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    actions = models.JSONField(default=list)
    stopped = models.BooleanField(default=False)  # "stop after this rule": the next rules were not evaluated
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("entrée du journal d'automatisation")
        verbose_name_plural = _("journal d'automatisation")
        indexes = [
            models.Index("organization", "ticket", models.F("created_at").desc(), name="automationrun_ticket_idx"),
            models.Index(fields=["rule", "created_at"], name="automationrun_rule_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_name} on ticket {self.ticket_id}"

    @property
    def counts(self) -> dict[str, int]:
        out = {o: 0 for o in Outcome.values}
        for a in self.actions:
            out[a.get("outcome", Outcome.DONE)] = out.get(a.get("outcome", Outcome.DONE), 0) + 1
        return out


class TimeRuleEpisode(models.Model):
    """A time rule looked at one stay of a ticket in a status (keyed by when that stay began).

    Inserted with ``ON CONFLICT DO NOTHING`` before the rule runs, in the same transaction: whoever
    inserts the row runs the rule, so a rule fires at most once per ticket per episode, however many
    scans or workers see it.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    status_changed_at = models.DateTimeField()
    matched = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "ticket", "status_changed_at"], name="timeruleepisode_once"),
        ]
        indexes = [models.Index(fields=["ticket"], name="timeruleepisode_ticket_idx")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} ticket {self.ticket_id} since {self.status_changed_at:%Y-%m-%d %H:%M}"


# --- webhooks ----------------------------------------------------------------------------------------------


class WebhookEvent(models.TextChoices):
    """The events an endpoint subscribes to (section 12)."""

    TICKET_CREATED = "ticket.created", _("Ticket créé")
    TICKET_ASSIGNED = "ticket.assigned", _("Ticket assigné")
    TICKET_RESOLVED = "ticket.resolved", _("Ticket résolu")
    TICKET_REOPENED = "ticket.reopened", _("Ticket rouvert")


# Sent without subscription: the "call a webhook" action of a rule, and the settings page's test button.
RULE_EVENT = "automation.rule"
TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEvent.choices), default=list, blank=True)
    # The signing secret, encrypted (lumiodesk.crypto): never stored in clear.
    secret_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(_("actif"), default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("endpoint webhook")
        verbose_name_plural = _("endpoints webhook")
        ordering = ["organization", "created_at", "id"]
        indexes = [
            models.Index(fields=["organization"], name="webhookendpoint_active_idx",
                         condition=models.Q(is_active=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(secret_encrypted=""), name="webhookendpoint_has_secret"),
        ]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("en attente")
    DELIVERED = "delivered", _("livré")
    FAILED = "failed", _("échec définitif")
    CANCELLED = "cancelled", _("annulé")


class WebhookDelivery(models.Model):
    """One event to send to one endpoint; ``body`` is the exact JSON sent at every attempt."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=40)
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker sends it: another worker leaves it alone until then (a crashed worker's claim expires).
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("livraison webhook")
        verbose_name_plural = _("livraisons webhook")
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values), name="webhookdelivery_status"),
            models.CheckConstraint(
                condition=~models.Q(status=DeliveryStatus.PENDING) | models.Q(next_attempt_at__isnull=False),
                name="webhookdelivery_pending_has_next",
            ),
        ]
        indexes = [
            models.Index("endpoint", models.F("created_at").desc(), name="webhookdelivery_endpoint_idx"),
            # The retry sweeper: pending deliveries whose next attempt has come.
            models.Index(fields=["next_attempt_at"], name="webhookdelivery_due_idx",
                         condition=models.Q(status=DeliveryStatus.PENDING)),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.uuid}"


class WebhookAttempt(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("tentative de livraison")
        verbose_name_plural = _("tentatives de livraison")
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_unique_number")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error}"
