"""The agent notifications the billing app sends, registered in the core's list at startup (``BillingConfig.ready``)."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from lumiodesk.notifications import AgentNotificationKind


class BillingNotificationKind(StrEnum):
    TICKET_VOLUME = "ticket_volume"  # 80 / 100 / 120 % of the month's tickets, to the Admins
    PLAN_ADVICE = "plan_advice"  # from 120 %: change plan, to the account owner


KINDS = (
    AgentNotificationKind(BillingNotificationKind.TICKET_VOLUME, _("Volume de tickets du mois (80, 100, 120 %)"),
                          position=80, managers_only=True),
    AgentNotificationKind(BillingNotificationKind.PLAN_ADVICE, _("Recommandation de changement de forfait"),
                          position=81, managers_only=True),
)
