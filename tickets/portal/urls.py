"""``/portal/<org-slug>/``: the customer portal."""

from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.ticket_list, name="tickets"),
    path("login/", views.sign_in_request, name="sign_in_request"),
    path("login/sent/", views.sign_in_sent, name="sign_in_sent"),
    path("login/confirm/", views.sign_in, name="sign_in"),
    path("login/<str:token>/", views.sign_in_link, name="sign_in_link"),
    path("logout/", views.sign_out, name="sign_out"),
    path("tickets/<int:number>/", views.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply/", views.ticket_reply, name="reply"),
    path("tickets/<int:number>/rate/", views.ticket_rate, name="rate"),
    path("tickets/<int:number>/attachments/<str:token>/", views.attachment, name="attachment"),
    path("rate/ticket/<int:number>/", views.rate_ticket, name="rate_ticket"),
    path("rate/<str:token>/", views.rate_link, name="rate_link"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/", views.notification_open, name="notification"),
    path("preferences/", views.preferences, name="preferences"),
]
