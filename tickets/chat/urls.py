"""The console side of the chat: Settings > Channels > Chat, the chat inbox and its live badges."""

from django.urls import path

from . import views

app_name = "chat"

urlpatterns = [
    path("settings/channels/chat/", views.widget_settings, name="settings"),
    path("chat/", views.inbox, name="inbox"),
    path("chat/badge/", views.badge, name="badge"),
    path("chat/tickets/<int:number>/live/", views.ticket_live, name="ticket_live"),
]
