from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Clients")

    def ready(self) -> None:
        from lumiodesk import audit
        from lumiodesk.notifications import register_kind

        from .notification_kinds import KINDS

        for kind in KINDS:
            register_kind(kind)
        audit.register_labels({
            "customer.updated": _("Fiche client modifiée"),
            "customer.merged": _("Clients fusionnés"),
            "company.updated": _("Fiche entreprise modifiée"),
            "rate.set": _("Coût horaire modifié"),
            "budget.saved": _("Budget enregistré"),
            "budget.deleted": _("Budget supprimé"),
            "time.updated": _("Temps passé modifié"),
            "time.deleted": _("Temps passé supprimé"),
        })
