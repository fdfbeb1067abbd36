from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Facturation")

    def ready(self):
        from lumiodesk import plans

        from . import services

        plans.register(
            plans.PlanAnswers(
                has_feature=services.has_feature,
                limit_of=services.limit_of,
                require_feature=services.require_feature,
            )
        )
