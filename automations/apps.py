from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationsConfig(AppConfig):
    name = "automations"
    verbose_name = _("Automatisations et webhooks")

    def ready(self) -> None:
        from billing.catalogue import Limit
        from billing.usage import register

        from .services import active_rule_count

        register(Limit.ACTIVE_AUTOMATIONS, active_rule_count)
