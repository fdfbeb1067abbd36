from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationsConfig(AppConfig):
    name = "automations"
    verbose_name = _("Automatisations et webhooks")

    def ready(self) -> None:
        # Imported here, not at the top: these modules load models, which Django allows only once apps are ready.
        from billing.catalogue import Limit
        from billing.usage import Reducer, register, register_reducer
        from lumiodesk.notifications import register_kind

        from .notification_kinds import KINDS
        from .services import active_rule_count, active_rules_for_choice, deactivate_rules

        register(Limit.ACTIVE_AUTOMATIONS, active_rule_count)
        register_reducer(Limit.ACTIVE_AUTOMATIONS, Reducer(items=active_rules_for_choice, deactivate=deactivate_rules))
        for kind in KINDS:
            register_kind(kind)
