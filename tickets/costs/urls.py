from django.urls import path

from . import views

app_name = "costs"

urlpatterns = [
    path("tickets/<int:number>/time/", views.ticket_time, name="ticket_time"),
    path("tickets/<int:number>/time/log/", views.time_log, name="log"),
    path("tickets/<int:number>/time/timer/", views.timer, name="timer"),
    path("time/<int:pk>/edit/", views.entry_edit, name="entry_edit"),
    path("time/<int:pk>/delete/", views.entry_delete, name="entry_delete"),
    path("settings/hourly-costs/", views.rate_settings, name="rates"),
    path("budgets/", views.budget_save, name="budget_save"),
    path("budgets/<int:pk>/delete/", views.budget_delete, name="budget_delete"),
    path("costs/", views.dashboard, name="dashboard"),
    path("costs/export.csv", views.dashboard_csv, name="csv"),
    path("costs/export.pdf", views.dashboard_pdf, name="pdf"),
]
