"""The plan catalogue, as data (section 9 and elsewhere in the LumioDesk documentation).

Each plan lists its price, its limits and its features. Nothing else in the code
knows a plan's numbers: features and limits are asked of ``billing.services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Feature(StrEnum):
    SSO = "sso"  # SAML SSO (section 10)
    TWO_FACTOR = "two_factor"  # 2FA, every plan (section 10)
    API = "api"  # REST API (section 12)
    WEBHOOKS = "webhooks"  # like the API (section 12)
    MAILBOX_SMTP_IMAP = "mailbox_smtp_imap"  # SMTP/IMAP connection (section 4)
    EMAIL_FORWARDING = "email_forwarding"  # forwarding address, every plan (section 4)
    CHAT_WIDGET = "chat_widget"  # every plan (section 5)
    WIDGET_BRANDING = "widget_branding"  # colours, logo, welcome message (section 5)
    FULL_ARCHIVE = "full_archive"  # attachments archive (section 11)
    CSV_EXPORT = "csv_export"  # every plan, counted (section 11)


class Limit(StrEnum):
    AGENTS_INCLUDED = "agents_included"
    TICKETS_PER_MONTH = "tickets_per_month"
    ACTIVE_AUTOMATIONS = "active_automations"
    EXPORTS_PER_MONTH = "exports_per_month"
    API_REQUESTS_PER_MINUTE = "api_requests_per_minute"
    AUDIT_RETENTION_DAYS = "audit_retention_days"
    ATTACHMENT_RETENTION_MONTHS = "attachment_retention_months"


LIMIT_LABELS = {
    Limit.AGENTS_INCLUDED: _("agents inclus"),
    Limit.TICKETS_PER_MONTH: _("tickets par mois"),
    Limit.ACTIVE_AUTOMATIONS: _("automatisations actives"),
    Limit.EXPORTS_PER_MONTH: _("exports par mois"),
    Limit.API_REQUESTS_PER_MINUTE: _("requêtes API par minute"),
    Limit.AUDIT_RETENTION_DAYS: _("conservation du journal d'audit (jours)"),
    Limit.ATTACHMENT_RETENTION_MONTHS: _("conservation des pièces jointes (mois)"),
}

FEATURE_LABELS = {
    Feature.SSO: _("SSO SAML"),
    Feature.TWO_FACTOR: _("authentification à deux facteurs"),
    Feature.API: _("API REST"),
    Feature.WEBHOOKS: _("webhooks"),
    Feature.MAILBOX_SMTP_IMAP: _("connexion SMTP/IMAP"),
    Feature.EMAIL_FORWARDING: _("transfert email"),
    Feature.CHAT_WIDGET: _("widget chat"),
    Feature.WIDGET_BRANDING: _("personnalisation du widget"),
    Feature.FULL_ARCHIVE: _("archive complète"),
    Feature.CSV_EXPORT: _("exports CSV"),
}

# Limits that refuse the action once reached. Tickets per month never block
# (section 9: overage raises alerts at 80/100/120 %); agents beyond those
# included are billed, not refused.
BLOCKING_LIMITS = frozenset({Limit.ACTIVE_AUTOMATIONS, Limit.EXPORTS_PER_MONTH, Limit.API_REQUESTS_PER_MINUTE})
TICKET_ALERT_THRESHOLDS = (80, 100, 120)  # percent of the monthly limit (section 9)
UPGRADE_RECOMMENDATION_THRESHOLD = 120
TRIAL_DAYS = 14  # section 20


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name: str
    monthly_price_eur: Decimal
    extra_agent_eur: Decimal
    limits: dict[Limit, int]
    features: frozenset[Feature] = field(default_factory=frozenset)


_EVERY_PLAN = frozenset({Feature.TWO_FACTOR, Feature.EMAIL_FORWARDING, Feature.CHAT_WIDGET, Feature.CSV_EXPORT})
_PAID_TIERS = _EVERY_PLAN | {
    Feature.SSO,
    Feature.API,
    Feature.WEBHOOKS,
    Feature.MAILBOX_SMTP_IMAP,
    Feature.WIDGET_BRANDING,
    Feature.FULL_ARCHIVE,
}

PLANS: dict[str, PlanSpec] = {
    "starter": PlanSpec(
        code="starter",
        name="Starter",
        monthly_price_eur=Decimal("29"),
        extra_agent_eur=Decimal("9"),
        limits={
            Limit.AGENTS_INCLUDED: 3,
            Limit.TICKETS_PER_MONTH: 1_000,
            Limit.ACTIVE_AUTOMATIONS: 5,
            Limit.EXPORTS_PER_MONTH: 2,
            Limit.API_REQUESTS_PER_MINUTE: 0,
            Limit.AUDIT_RETENTION_DAYS: 30,
            Limit.ATTACHMENT_RETENTION_MONTHS: 12,
        },
        features=_EVERY_PLAN,
    ),
    "business": PlanSpec(
        code="business",
        name="Business",
        monthly_price_eur=Decimal("89"),
        extra_agent_eur=Decimal("7"),
        limits={
            Limit.AGENTS_INCLUDED: 10,
            Limit.TICKETS_PER_MONTH: 10_000,
            Limit.ACTIVE_AUTOMATIONS: 30,
            Limit.EXPORTS_PER_MONTH: 20,
            Limit.API_REQUESTS_PER_MINUTE: 600,
            Limit.AUDIT_RETENTION_DAYS: 180,
            Limit.ATTACHMENT_RETENTION_MONTHS: 24,
        },
        features=_PAID_TIERS,
    ),
    "scale": PlanSpec(
        code="scale",
        name="Scale",
        monthly_price_eur=Decimal("249"),
        extra_agent_eur=Decimal("5"),
        limits={
            Limit.AGENTS_INCLUDED: 30,
            Limit.TICKETS_PER_MONTH: 50_000,
            Limit.ACTIVE_AUTOMATIONS: 100,
            Limit.EXPORTS_PER_MONTH: 100,
            Limit.API_REQUESTS_PER_MINUTE: 2_400,
            Limit.AUDIT_RETENTION_DAYS: 365,
            Limit.ATTACHMENT_RETENTION_MONTHS: 36,
        },
        features=_PAID_TIERS,
    ),
}
