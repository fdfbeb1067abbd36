from django.urls import path

from . import views

app_name = "email"

urlpatterns = [
    path("", views.mailbox_list, name="mailboxes"),
    path("<int:pk>/", views.mailbox_edit, name="mailbox_edit"),
    path("<int:pk>/pause/", views.mailbox_pause, name="mailbox_pause"),
    path("<int:pk>/verify/", views.mailbox_verify, name="mailbox_verify"),
    path("inbound/", views.inbound_list, name="inbound"),
    path("inbound/<int:pk>/raw/", views.inbound_raw, name="inbound_raw"),
    path("inbound/<int:pk>/retry/", views.inbound_retry, name="inbound_retry"),
]
