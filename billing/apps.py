from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Facturation")

    def ready(self):
        from lumiodesk import plans, team

        from . import services, usage
        from .catalogue import Limit

        plans.register(
            plans.PlanAnswers(
                has_feature=services.has_feature,
                limit_of=services.limit_of,
                require_feature=services.require_feature,
            )
        )
        usage.register(Limit.AGENTS_INCLUDED, team.seats_used)  # active members but Viewers (lumiodesk.team)
