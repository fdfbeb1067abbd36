"""The agent notifications the sla app sends, registered in the core's list at startup (``SlaConfig.ready``)."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from lumiodesk.notifications import AgentNotificationKind


class SlaNotificationKind(StrEnum):
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    DAILY_DIGEST = "daily_digest"
    QUEUE_HYGIENE = "queue_hygiene"


KINDS = (
    AgentNotificationKind(SlaNotificationKind.SLA_WARNING, _("SLA bientôt dépassé"), position=40),
    AgentNotificationKind(SlaNotificationKind.SLA_BREACH, _("SLA dépassé"), position=50),
    # 002: "En cours" left 24 h, an urgent customer without news for 2 h (sla.dashboard.hygiene).
    AgentNotificationKind(SlaNotificationKind.QUEUE_HYGIENE, _("File : ticket qui stagne"), position=55),
    # Opt-in: a manager turns it on.
    AgentNotificationKind(SlaNotificationKind.DAILY_DIGEST, _("Résumé quotidien"), position=70, in_app=False,
                          email=False, managers_only=True),
)
