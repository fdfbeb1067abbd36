from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LumiodeskConfig(AppConfig):
    name = "lumiodesk"
    verbose_name = _("Espace de travail")
