from django.contrib import admin

from .models import AuditLog, Invitation, Membership, Organization, UnverifiedEmail


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "language", "time_zone")
    inlines = [MembershipInline]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "organization", "actor", "action", "target_type", "target_id", "ip_address")
    list_filter = ("action",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "organization", "role", "sent_at", "expires_at", "accepted_at", "revoked_at")
    exclude = ("token_hash",)
    raw_id_fields = ("invited_by", "accepted_by")

    def has_add_permission(self, request) -> bool:  # invitations are sent from Settings > Team (the link is mailed)
        return False


@admin.register(UnverifiedEmail)
class UnverifiedEmailAdmin(admin.ModelAdmin):
    """Deleting a row verifies the account by hand (support: a lost verification email)."""

    list_display = ("user", "created_at")
    raw_id_fields = ("user",)
