"""Admin: read what rules, journals and webhooks hold (changes go through the settings pages and services)."""

from django.contrib import admin

from .models import AutomationRule, AutomationRun, TimeRuleEpisode, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AutomationRule)
class AutomationRuleAdmin(ReadOnlyAdmin):
    list_display = ("name", "organization", "position", "is_active", "stop_after", "time_status", "updated_at")
    list_filter = ("is_active", "stop_after")
    search_fields = ("name", "organization__name")
    ordering = ("organization", "position")


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyAdmin):
    list_display = ("rule_name", "organization", "ticket", "trigger", "stopped", "created_at")
    list_filter = ("trigger",)
    raw_id_fields = ("ticket", "rule")
    date_hierarchy = "created_at"


@admin.register(TimeRuleEpisode)
class TimeRuleEpisodeAdmin(ReadOnlyAdmin):
    list_display = ("rule", "ticket", "status_changed_at", "matched", "created_at")
    raw_id_fields = ("rule", "ticket")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "organization", "is_active", "disabled_at", "created_at")
    list_filter = ("is_active",)
    exclude = ("secret_encrypted",)  # never shown, even encrypted


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "duration_ms", "status_code", "error", "succeeded")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("uuid", "event", "endpoint", "status", "attempts", "next_attempt_at", "created_at")
    list_filter = ("status", "event", "is_test")
    raw_id_fields = ("endpoint", "ticket")
    inlines = [WebhookAttemptInline]
