from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LumiodeskConfig(AppConfig):
    name = "lumiodesk"
    verbose_name = _("Espace de travail")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .signin import record_sign_in

        user_logged_in.connect(record_sign_in, dispatch_uid="lumiodesk.audit_sign_in")
