from django.contrib import admin

from lumiodesk.models import BusinessHours, Holiday

from .models import (
    DashboardReport,
    DigestRun,
    QueueAlert,
    SlaAlert,
    SlaOutcome,
    SlaPolicy,
    SlaReport,
    SlaSettings,
    WeeklyReportSubscription,
)


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ("organization", "weekday", "is_open", "opens", "closes")
    list_filter = ("weekday", "is_open")


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("organization", "date", "name")


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("organization", "priority", "first_response_amount", "first_response_unit", "resolution_amount",
                    "resolution_unit")


@admin.register(SlaAlert)
class SlaAlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "organization", "ticket", "kind", "due_at")
    list_filter = ("kind",)
    raw_id_fields = ("ticket",)


@admin.register(SlaOutcome)
class SlaOutcomeAdmin(admin.ModelAdmin):
    list_display = ("ticket", "metric", "priority", "breached", "business_seconds", "achieved_at")
    list_filter = ("metric", "breached")
    raw_id_fields = ("ticket", "agent")


admin.site.register(SlaSettings)
admin.site.register(DigestRun)
admin.site.register(SlaReport)


@admin.register(DashboardReport)
class DashboardReportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "organization", "start", "end", "time_zone", "created_by")
    exclude = ("data",)


@admin.register(QueueAlert)
class QueueAlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "organization", "ticket", "kind", "since")
    list_filter = ("kind",)
    raw_id_fields = ("ticket",)


admin.site.register(WeeklyReportSubscription)
