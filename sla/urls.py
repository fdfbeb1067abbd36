from django.urls import path

from . import views
from .dashboard import views as dashboard_views

app_name = "sla"

urlpatterns = [
    path("settings/sla/", views.sla_settings, name="settings"),
    path("settings/sla/hours/", views.hours_save, name="hours"),
    path("settings/sla/holidays/", views.holiday_add, name="holiday_add"),
    path("settings/sla/holidays/import/", views.holiday_import, name="holiday_import"),
    path("settings/sla/holidays/<int:pk>/delete/", views.holiday_delete, name="holiday_delete"),
    path("settings/sla/policies/", views.policies_save, name="policies"),
    path("settings/sla/preview/", views.preview, name="preview"),
    path("reports/sla/", views.report_list, name="reports"),
    path("reports/sla/<int:pk>/", views.report_detail, name="report"),
    path("reports/dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("reports/dashboard/reports/", dashboard_views.report_create, name="dashboard_report"),
    path("reports/dashboard/weekly/", dashboard_views.weekly_report, name="dashboard_weekly"),
    path("reports/dashboard/reports/<int:pk>.pdf", dashboard_views.report_pdf, name="dashboard_pdf"),
]
