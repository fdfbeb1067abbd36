from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LumiodeskConfig(AppConfig):
    name = "lumiodesk"
    verbose_name = _("Espace de travail")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from .presence import forget_user
        from .signin import record_sign_in
        from .two_factor import on_signed_in

        # Every way of signing in (password, SSO, invitation, password reset) owes a 2FA code or set-up here;
        # first, so that the audit row below says whether a code is still due.
        user_logged_in.connect(on_signed_in, dispatch_uid="lumiodesk.two_factor_sign_in")
        user_logged_in.connect(record_sign_in, dispatch_uid="lumiodesk.audit_sign_in")
        user_logged_out.connect(forget_user, dispatch_uid="lumiodesk.presence_sign_out")  # offline at once
