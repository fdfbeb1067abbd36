from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA et horaires")

    def ready(self) -> None:
        from tickets import console_slots

        from . import receivers  # noqa: F401 - a new organization gets its SLA defaults
        from .selectors import sla_statuses, ticket_clocks

        console_slots.register_sla(column=sla_statuses, panel=ticket_clocks)
