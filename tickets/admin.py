from django.contrib import admin

from .models import BlockedSender, ReplyTemplate, SavedView, Tag, Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("number", "subject", "organization", "status", "priority", "channel", "created_at")
    list_filter = ("status", "priority", "channel")
    search_fields = ("subject",)
    raw_id_fields = ("customer", "assignee")
    readonly_fields = ("search_vector",)


admin.site.register(Tag)
admin.site.register(SavedView)
admin.site.register(ReplyTemplate)


@admin.register(BlockedSender)
class BlockedSenderAdmin(admin.ModelAdmin):
    list_display = ("email", "organization", "created_at", "created_by")
    raw_id_fields = ("ticket",)
