"""Exports (section 11, and "export before cancellation", section 18): tickets as CSV, or the full archive.

Rules:
- A CSV export holds the tickets of the console list's filters (``tickets.selectors.TicketFilters``) and/or
  a period of creation, without attachments. It counts against the plan's monthly quota (2/20/100, calendar
  month in UTC like invoices): the count is taken when the export is asked for, by one conditional upsert
  (``take_quota``), so two requests at once never go past it; an export that fails gives its count back.
- The full archive (tickets, messages, customers, companies, articles as CSV and JSON, attachment files) is
  for the plans with ``FULL_ARCHIVE`` and Admins; it is not counted in the CSV quota (it is the export offered
  before cancelling, which a used-up quota must not prevent), one at a time per organization.
- Exports are reads: a read-only organization (trial ended, cancelled) still exports (FAQ 4).
- Both are built in the background (``build_export_task``): the task claims the export with a conditional
  UPDATE (two workers never build it twice), writes a temporary file and stores it; the download link works 14
  days for the members with the capability, then ``purge_expired`` (Celery beat, daily) deletes the file.
- Asking for an export and downloading it are audited.
"""

from __future__ import annotations

import secrets
import tempfile
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from celery import shared_task
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing import services as billing
from billing.catalogue import Feature, Limit
from lumiodesk import audit
from lumiodesk.exceptions import DomainError, InvalidInput, PlanLimitReached
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from .. import selectors
from ..models import Ticket
from ..selectors import TicketFilters
from . import files
from .models import Export, ExportKind, ExportQuota, ExportState

LINK_DAYS = 14  # section 18: the full export stays available 14 days
STALE_AFTER = timedelta(hours=2)  # a build still "running" after this lost its worker
REQUEUE_AFTER = timedelta(minutes=10)  # an export still "pending" after this lost its task (broker down)

AUDIT_LABELS = {
    "export.requested": gettext_lazy("Export demandé"),
    "export.downloaded": gettext_lazy("Export téléchargé"),
}


class ExportGone(DomainError):
    status_code = 410


def month_of(now: datetime | None = None) -> date:
    """The 1st of the current calendar month in UTC."""
    return (now or timezone.now()).astimezone(UTC).date().replace(day=1)


def exports_used_this_month(organization: Organization) -> int:
    """CSV exports asked this month (``billing.usage`` counter of ``Limit.EXPORTS_PER_MONTH``)."""
    row = ExportQuota.objects.filter(organization=organization, month=month_of()).values_list("used", flat=True)
    return next(iter(row), 0)


def quota_of(organization: Organization) -> billing.LimitStatus:
    return billing.limit_status(organization, Limit.EXPORTS_PER_MONTH)


_TAKE_SQL = """
INSERT INTO tickets_exportquota (organization_id, month, used) VALUES (%s, %s, 1)
ON CONFLICT (organization_id, month) DO UPDATE SET used = tickets_exportquota.used + 1
WHERE tickets_exportquota.used < %s
RETURNING used
"""


def take_quota(organization: Organization, now: datetime | None = None) -> int:
    """Count one CSV export this month, or raise ``PlanLimitReached``: one statement, so concurrent requests
    are serialized on the month's row and never go past the quota. Returns the count now used."""
    allowed = billing.limit_of(organization, Limit.EXPORTS_PER_MONTH)
    row = None
    if allowed > 0:
        with connection.cursor() as cursor:
            cursor.execute(_TAKE_SQL, [organization.pk, month_of(now), allowed])
            row = cursor.fetchone()
    if row is None:
        raise PlanLimitReached(
            _("Quota d'exports atteint : le forfait %(plan)s permet %(n)s exports CSV par mois, tous utilisés ce "
              "mois-ci. Le compteur repart à zéro le 1er du mois prochain (UTC) ; un forfait supérieur en permet "
              "davantage.") % {"plan": billing.plan_of(organization).name, "n": allowed}
        )
    return row[0]


def _give_back(export: Export) -> None:
    if export.kind == ExportKind.TICKETS_CSV:
        ExportQuota.objects.filter(organization_id=export.organization_id, month=month_of(export.created_at),
                                   used__gt=0).update(used=F("used") - 1)


# --- asking -------------------------------------------------------------------------------------------------


@transaction.atomic
def start_tickets_export(*, organization: Organization, actor: Actor, filters: TicketFilters,
                         period_start: date | None = None, period_end: date | None = None) -> Export:
    require(actor, "exports.create", organization)
    billing.require_feature(organization, Feature.CSV_EXPORT)
    if period_start and period_end and period_start > period_end:
        raise InvalidInput(_("La période est à l'envers : la date de début doit précéder la date de fin."))
    now = timezone.now()
    take_quota(organization, now)
    export = Export.objects.create(
        organization=organization, created_by=actor.user, kind=ExportKind.TICKETS_CSV, filters=filters.as_dict(),
        period_start=period_start, period_end=period_end, created_at=now,  # its month is the quota's month
    )
    audit.record(organization=organization, actor=actor.user, action="export.requested", target_type="export",
                 target_id=export.pk, kind=export.kind, filters=export.filters,
                 period=[d.isoformat() if d else None for d in (period_start, period_end)])
    transaction.on_commit(lambda: build_export_task.delay(export.pk))
    return export


def start_archive(*, organization: Organization, actor: Actor) -> Export:
    require(actor, "exports.archive", organization)
    billing.require_feature(organization, Feature.FULL_ARCHIVE)
    try:
        with transaction.atomic():
            export = Export.objects.create(organization=organization, created_by=actor.user,
                                           kind=ExportKind.ARCHIVE, created_at=timezone.now())
            audit.record(organization=organization, actor=actor.user, action="export.requested",
                         target_type="export", target_id=export.pk, kind=export.kind)
            transaction.on_commit(lambda: build_export_task.delay(export.pk))
    except IntegrityError:  # export_one_archive_at_a_time
        raise InvalidInput(_("Une archive complète est déjà en préparation : attendez qu'elle soit prête.")) from None
    return export


# --- building -----------------------------------------------------------------------------------------------


@shared_task(soft_time_limit=60 * 60, time_limit=61 * 60)
def build_export_task(export_id: int) -> str:
    """Build one export in the background (listed in ``tickets.tasks``); safe to run twice."""
    if not Export.objects.filter(pk=export_id).exists():  # its organization was deleted meanwhile
        return "missing"
    return build(export_id).state


def _ticket_ids(export: Export) -> list[int]:
    org = export.organization
    if export.kind == ExportKind.ARCHIVE:
        qs = Ticket.objects.filter(organization=org)
    else:
        qs = selectors.matching_tickets(org, TicketFilters.from_params(export.filters), user=export.created_by)
        tz = zoneinfo.ZoneInfo(org.time_zone)
        if export.period_start:
            qs = qs.filter(created_at__gte=datetime.combine(export.period_start, time.min, tzinfo=tz))
        if export.period_end:
            qs = qs.filter(created_at__lt=datetime.combine(export.period_end + timedelta(days=1), time.min,
                                                           tzinfo=tz))
    return list(qs.order_by("number").values_list("id", flat=True))


def build(export_id: int) -> Export:
    """Write the export's file and store it. Claims the export first: a second run does nothing."""
    now = timezone.now()
    if not Export.objects.filter(pk=export_id, state=ExportState.PENDING).update(state=ExportState.RUNNING,
                                                                                 started_at=now):
        return Export.objects.get(pk=export_id)
    export = Export.objects.select_related("organization", "created_by").get(pk=export_id)
    org = export.organization
    stored = ""
    try:
        with translation.override(org.language), tempfile.TemporaryFile() as out:
            ids = _ticket_ids(export)
            done = 0
            last = [0.0]

            def progress(n: int) -> None:
                nonlocal done
                done += n
                if timezone.now().timestamp() - last[0] >= 1:  # at most one UPDATE a second
                    last[0] = timezone.now().timestamp()
                    Export.objects.filter(pk=export.pk).update(processed=min(done, total))

            if export.kind == ExportKind.ARCHIVE:
                total = files.archive_counts(org)
                Export.objects.filter(pk=export.pk).update(total=total)
                files.write_archive(out, org, ids, progress)
                extension = "zip"
            else:
                total = len(ids)
                Export.objects.filter(pk=export.pk).update(total=total)
                files.write_tickets_csv(out, org, ids, progress)
                extension = "csv"
            size = out.tell()
            out.seek(0)
            stored = default_storage.save(f"exports/{org.pk}/{secrets.token_hex(16)}.{extension}", File(out))
        finished = timezone.now()
        label = "tickets" if export.kind == ExportKind.TICKETS_CSV else "archive"
        Export.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
            state=ExportState.DONE, file=stored, size=size, processed=total, total=total, finished_at=finished,
            expires_at=finished + timedelta(days=LINK_DAYS),
            filename=f"lumiodesk-{org.slug}-{label}-{timezone.localtime(finished):%Y%m%d-%H%M}.{extension}",
        )
    except Exception as exc:
        if stored:
            default_storage.delete(stored)
        _fail(export, str(exc))
        raise
    export.refresh_from_db()
    return export


def _fail(export: Export, error: str) -> None:
    with transaction.atomic():
        if Export.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
            state=ExportState.FAILED, error=error[:2000], finished_at=timezone.now()
        ):
            _give_back(export)


# --- reading and downloading --------------------------------------------------------------------------------


def exports_of(organization: Organization, limit: int = 20) -> list[Export]:
    return list(Export.objects.filter(organization=organization).select_related("created_by")
                .order_by("-created_at", "-id")[:limit])


def capability_for(export: Export) -> str:
    return "exports.archive" if export.kind == ExportKind.ARCHIVE else "exports.create"


def open_download(*, export: Export, actor: Actor, now: datetime | None = None) -> File:
    """The export's file for a member allowed to read it, while the link is valid (14 days); audited."""
    require(actor, capability_for(export), export.organization)
    now = now or timezone.now()
    if export.state == ExportState.EXPIRED or (export.expires_at and export.expires_at <= now):
        raise ExportGone(_("Ce lien de téléchargement a expiré (14 jours) et le fichier a été supprimé. "
                           "Lancez un nouvel export."))
    if export.state != ExportState.DONE or not export.file:
        raise InvalidInput(_("Cet export n'est pas encore prêt."))
    audit.record(organization=export.organization, actor=actor.user, action="export.downloaded",
                 target_type="export", target_id=export.pk, kind=export.kind)
    return default_storage.open(export.file, "rb")


# --- the daily purge ----------------------------------------------------------------------------------------


def purge_expired(*, now: datetime | None = None) -> int:
    """Delete the files whose link has expired (the row stays, "expired", for the history); fail the builds
    whose worker was lost (their quota given back) and queue again those whose task was lost. Returns how many
    files were deleted."""
    now = now or timezone.now()
    removed = 0
    for export in Export.objects.filter(state=ExportState.DONE, expires_at__lte=now).only("pk", "file"):
        if Export.objects.filter(pk=export.pk, state=ExportState.DONE).update(state=ExportState.EXPIRED, file=""):
            if export.file:
                default_storage.delete(export.file)
            removed += 1
    for export in Export.objects.filter(state=ExportState.RUNNING, started_at__lt=now - STALE_AFTER):
        _fail(export, "interrupted: the worker building it was lost")
    for pk in Export.objects.filter(state=ExportState.PENDING, created_at__lt=now - REQUEUE_AFTER).values_list(
            "pk", flat=True):
        build_export_task.delay(pk)
    return removed
