from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from billing.catalogue import Limit
        from billing.usage import register

        from .selectors import tickets_created_this_month

        register(Limit.TICKETS_PER_MONTH, tickets_created_this_month)

        from . import (
            agent_notifications,  # noqa: F401 - connects the agents' notifications to tickets.events
            receivers,  # noqa: F401 - keeps the cached closed count true
        )
        from .chat import receivers as chat_receivers  # noqa: F401 - the chat inbox follows its tickets
