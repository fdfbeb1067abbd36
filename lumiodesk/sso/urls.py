from django.urls import path

from . import views

app_name = "sso"

urlpatterns = [
    path("settings/sso/", views.sso_settings, name="settings"),
    path("sso/", views.choose, name="choose"),
    path("sso/<slug:org>/metadata/", views.sp_metadata, name="metadata"),
    path("sso/<slug:org>/login/", views.start, name="login"),
    path("sso/<slug:org>/acs/", views.acs, name="acs"),
]
