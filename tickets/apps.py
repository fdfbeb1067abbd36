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

        from . import subscribers  # noqa: F401 - connects post_delete: a deleted ticket drops the closed count
