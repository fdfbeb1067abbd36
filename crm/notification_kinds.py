"""The agent notifications the crm app sends, registered in the core's list at startup (``CrmConfig.ready``).
Budget alerts are raised by ``tickets.costs.alerts`` (time entries belong to tickets) under this kind."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from lumiodesk.notifications import AgentNotificationKind


class CrmNotificationKind(StrEnum):
    BUDGET_ALERT = "budget_alert"  # 80 % / 100 % of a budget, or an overrun the pace predicts, to the Managers


KINDS = (
    AgentNotificationKind(CrmNotificationKind.BUDGET_ALERT, _("Budget client : seuil atteint ou dépassement prévu"),
                          position=85, managers_only=True),
)
