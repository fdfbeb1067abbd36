from django.urls import path

from . import settings_views

app_name = "api_settings"

urlpatterns = [
    path("", settings_views.api_keys, name="keys"),
    path("<int:pk>/revoke/", settings_views.api_key_revoke, name="revoke"),
]
