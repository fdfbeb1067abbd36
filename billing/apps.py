from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Facturation")

    def ready(self):
        from lumiodesk import audit, organizations, permissions, plans, team
        from lumiodesk.notifications import register_kind

        from . import services, subscriptions, usage
        from .catalogue import Limit
        from .notification_kinds import KINDS

        plans.register(
            plans.PlanAnswers(
                has_feature=services.has_feature,
                limit_of=services.limit_of,
                require_feature=services.require_feature,
            )
        )
        # Read-only organizations (trial ended, cancelled): the permission check asks billing.
        permissions.register_read_only(subscriptions.read_only_reason)
        for kind in KINDS:
            register_kind(kind)
        usage.register(Limit.AGENTS_INCLUDED, team.seats_used)  # active members but Viewers (lumiodesk.team)
        organizations.on_created(_start_trial)  # sign-up starts the 14-day trial (section 20)
        audit.register_labels(AUDIT_LABELS)


AUDIT_LABELS = {
    "billing.subscription.trial": _("Essai de 14 jours démarré"),
    "billing.subscription.active": _("Forfait choisi"),
    "billing.subscription.read_only": _("Organisation en lecture seule"),
    "billing.subscription.cancelled": _("Abonnement résilié"),
    "billing.invoice.issued": _("Facture émise"),
    "billing.invoice.paid": _("Facture marquée payée"),
    "billing.invoice.void": _("Facture annulée"),
    "billing.refund.requested": _("Remboursement demandé"),
    "billing.refund.approved": _("Remboursement approuvé"),
    "billing.refund.rejected": _("Remboursement refusé"),
}


def _start_trial(organization, admin_user) -> None:
    from . import subscriptions

    subscriptions.start_trial(organization)
