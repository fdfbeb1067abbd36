from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA et horaires")

    def ready(self) -> None:
        # Imported here, not at the top: these modules load models, which Django allows only once apps are ready.
        from lumiodesk.notifications import register_kind
        from tickets import console_slots

        from . import receivers  # noqa: F401 - a new organization gets its SLA defaults
        from .notification_kinds import KINDS
        from .selectors import sla_statuses, ticket_clocks

        console_slots.register_sla(column=sla_statuses, panel=ticket_clocks)  # the console's SLA column and clocks
        for kind in KINDS:
            register_kind(kind)
