from django.urls import path

from . import views

app_name = "assignment"

urlpatterns = [
    path("settings/assignment/", views.assignment_settings, name="settings"),
    path("presence/heartbeat/", views.heartbeat, name="heartbeat"),
    path("presence/absent/", views.absent, name="absent"),
]
