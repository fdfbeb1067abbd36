from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        # Imported here, not at the top: these modules load models, which Django allows only once apps are ready.
        from billing.catalogue import Limit
        from billing.usage import register
        from lumiodesk.notifications import register_kind

        from . import subscribers  # noqa: F401 - connects post_delete: a deleted ticket drops the closed count
        from .agent_notifications import KINDS
        from .selectors import tickets_created_this_month

        register(Limit.TICKETS_PER_MONTH, tickets_created_this_month)
        for kind in KINDS:
            register_kind(kind)
