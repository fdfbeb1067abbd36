"""The widget's public URLs (no login): ``/widget/<workspace id>/…``; ``/widget.js`` is in lumiodesk/urls.py."""

from django.urls import path

from . import public_views as views

app_name = "chat_public"

urlpatterns = [
    path("<str:workspace>/config", views.config, name="config"),
    path("<str:workspace>/frame/", views.frame, name="frame"),
    path("<str:workspace>/logo", views.logo, name="logo"),
    path("<str:workspace>/api/", views.api_status, name="api_root"),
    path("<str:workspace>/api/suggest", views.api_suggest, name="api_suggest"),
    path("<str:workspace>/api/start", views.api_start, name="api_start"),
    path("<str:workspace>/api/conversation", views.api_conversation, name="api_conversation"),
]
