"""An import (Settings > Import) and what each of its rows became."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Clients")
    COMPANIES = "companies", _("Entreprises")
    TAGS = "tags", _("Tags")
    TICKETS = "tickets", _("Tickets historiques")


class ImportState(models.TextChoices):
    MAPPING = "mapping", _("Correspondance des colonnes")
    RUNNING = "running", _("En cours")
    DONE = "done", _("Terminé")
    FAILED = "failed", _("Échoué")
    UNDONE = "undone", _("Annulé")


class ImportRun(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    filename = models.CharField(max_length=255)
    data = models.BinaryField()  # the uploaded file, kept until the import is done (20 MB at most)
    encoding = models.CharField(max_length=20)
    separator = models.CharField(max_length=2)
    total_rows = models.PositiveIntegerField(default=0)
    mapping = models.JSONField(default=dict)  # target field -> column header
    is_test = models.BooleanField(default=False)  # the first 50 rows only
    state = models.CharField(max_length=10, choices=ImportState.choices, default=ImportState.MAPPING)
    processed = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # created / updated / skipped / error
    report = models.JSONField(default=list)  # [{line, outcome, reason}] for rows not simply created
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"], name="importrun_org_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.filename}"

    @property
    def percent(self) -> int:
        total = min(self.total_rows, 50) if self.is_test else self.total_rows
        return int(self.processed * 100 / total) if total else 100


class ImportedRow(models.Model):
    """What a row created: re-importing the same file finds its key here and creates nothing twice; undoing
    a run deletes what it created."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    key = models.CharField(max_length=64)  # sha256 of the row's identity (see tickets.imports.services)
    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="rows")
    object_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "kind", "key"], name="importedrow_unique")]
        indexes = [models.Index(fields=["run"], name="importedrow_run_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
