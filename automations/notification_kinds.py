"""The agent notifications automations send, registered in the core's list at startup (``AutomationsConfig.ready``):
a rule's "notify" action, and a webhook endpoint disabled after 6 failures (to the Admins)."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from lumiodesk.notifications import AgentNotificationKind


class AutomationNotificationKind(StrEnum):
    AUTOMATION = "automation"
    WEBHOOK_DISABLED = "webhook_disabled"


KINDS = (
    AgentNotificationKind(AutomationNotificationKind.AUTOMATION, _("Règle d'automatisation"), position=80),
    AgentNotificationKind(AutomationNotificationKind.WEBHOOK_DISABLED, _("Webhook désactivé"), position=90,
                          managers_only=True),
)
