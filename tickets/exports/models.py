"""An export (Reports > Exports): tickets as CSV, or the full archive, built in the background and kept 14 days;
and the monthly count of CSV exports that the plan's quota is checked against."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization


class ExportKind(models.TextChoices):
    TICKETS_CSV = "tickets_csv", _("Tickets (CSV)")
    ARCHIVE = "archive", _("Archive complète (ZIP)")


class ExportState(models.TextChoices):
    PENDING = "pending", _("En attente")
    RUNNING = "running", _("En cours")
    DONE = "done", _("Prêt")
    FAILED = "failed", _("Échoué")
    EXPIRED = "expired", _("Expiré")


class Export(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=12, choices=ExportKind.choices)
    # What a CSV export holds: the console list's filters (tickets.selectors.TicketFilters.as_dict) and an
    # optional period of creation (dates in the organization's time zone, both included).
    filters = models.JSONField(default=dict, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.PENDING)
    total = models.PositiveIntegerField(default=0)  # tickets to write
    processed = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=255, blank=True)  # its name in the default storage, "" once deleted
    filename = models.CharField(max_length=120, blank=True)  # the name the download gets
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # the download link's end: finished_at + 14 days

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="export_org_idx"),
            # The daily purge: the files whose link has expired.
            models.Index(fields=["expires_at"], name="export_expiry_idx", condition=models.Q(state="done")),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=ExportKind.values), name="export_kind_valid"),
            models.CheckConstraint(condition=models.Q(state__in=ExportState.values), name="export_state_valid"),
            # One archive in the making per organization (it reads everything): a second request is refused.
            models.UniqueConstraint(fields=["organization"], name="export_one_archive_at_a_time",
                                    condition=models.Q(kind="archive", state__in=["pending", "running"])),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def link_valid(self) -> bool:
        return self.state == ExportState.DONE and self.expires_at is not None and self.expires_at > timezone.now()

    @property
    def percent(self) -> int:
        return int(self.processed * 100 / self.total) if self.total else (100 if self.state == "done" else 0)


class ExportQuota(models.Model):
    """CSV exports started by an organization in a calendar month (UTC, like invoices): one row per month,
    incremented by a conditional upsert (tickets.exports.services.take_quota), so concurrent requests
    never go past the plan's quota."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()  # the 1st of the month
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "month"], name="exportquota_unique_month")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.month:%Y-%m}: {self.used}"
