from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        # Imported here, not at the top: these modules load models, which Django allows only once apps are ready.
        from django.contrib.auth.signals import user_logged_out

        from billing.catalogue import Limit
        from billing.usage import register, register_bound
        from crm.services import on_customer_renamed
        from lumiodesk import audit, organizations, team
        from lumiodesk.notifications import register_kind

        from . import subscribers  # noqa: F401 - connects post_delete: a deleted ticket drops the closed count
        from .agent_notifications import KINDS
        from .costs.services import stop_timers_on_sign_out
        from .exports.services import AUDIT_LABELS, exports_used_this_month
        from .selectors import tickets_created_this_month, tickets_created_this_month_at_most
        from .services.search_document import refresh_customer_search_documents
        from .team_hooks import create_starter_tags, reassign_open_tickets

        register(Limit.TICKETS_PER_MONTH, tickets_created_this_month)
        register_bound(Limit.TICKETS_PER_MONTH, tickets_created_this_month_at_most)  # volume alerts, cheaply
        register(Limit.EXPORTS_PER_MONTH, exports_used_this_month)  # CSV exports this month (tickets.exports)
        audit.register_labels(AUDIT_LABELS)
        organizations.on_created(create_starter_tags)  # section 3: facturation, bug, question-produit
        team.on_member_deactivated(reassign_open_tickets)  # their open tickets, in the same transaction
        on_customer_renamed(refresh_customer_search_documents)  # the search entries hold the customer's name
        audit.register_labels({"assignment.settings": _("Assignation automatique modifiée")})
        for kind in KINDS:
            register_kind(kind)
        audit.register_labels({"api_key.created": _("Clé d'API créée"), "api_key.revoked": _("Clé d'API révoquée")})
        user_logged_out.connect(stop_timers_on_sign_out, dispatch_uid="tickets.costs.stop_timers_on_sign_out")
