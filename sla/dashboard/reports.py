"""The dashboard as a report for a period: its figures saved with the time zone in force (section 3), and
its PDF (WeasyPrint; the charts are the page's own inline SVG).

A saved report never changes: changing the organization's time zone, or new tickets, do not touch it. The
PDF is rendered from the saved figures, in the organization's language.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.invoices import FONTS  # the fonts the invoices embed
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from ..models import DashboardReport
from . import figures, rollups, team_figures
from .presentation import presentation_context


def check_period(f: figures.DashboardFilters) -> None:
    if f.end < f.start:
        raise InvalidInput(_("La fin de la période doit suivre son début."))
    if (f.end - f.start).days >= figures.MAX_DAYS:
        raise InvalidInput(_("Un rapport couvre au plus un an."))


def compose(organization: Organization, filters: figures.DashboardFilters, *, now: datetime,
            time_zone: str) -> dict:
    """What the dashboard page, a saved report and the weekly email show: the figures and the per-team table,
    from one read of the period (``rollups.read``, shared by both)."""
    period = rollups.read(organization, filters, time_zone=time_zone)
    data = figures.compute(organization, filters, now=now, time_zone=time_zone, period_data=period)
    data["teams"] = team_figures.compute(organization, filters, time_zone=time_zone, period_data=period)
    return data


@transaction.atomic
def generate_report(*, organization: Organization, filters: figures.DashboardFilters, actor: Actor,
                    now: datetime | None = None) -> DashboardReport:
    require(actor, "reports.generate", organization)
    check_period(filters)
    now = now or timezone.now()
    time_zone = organization.time_zone
    data = compose(organization, filters, now=now, time_zone=time_zone)
    report = DashboardReport.objects.create(
        organization=organization, created_by=getattr(actor, "user", None), created_at=now, time_zone=time_zone,
        start=filters.start, end=filters.end, filters=filters.as_params(), data=data,
    )
    audit.record(organization=organization, actor=getattr(actor, "user", None), action="dashboard.report",
                 target_type="dashboard_report", target_id=report.pk, start=filters.start.isoformat(),
                 end=filters.end.isoformat())
    return report


def render_html(report: DashboardReport) -> str:
    """The report's page as HTML, in the organization's language and the report's time zone: what
    ``render_pdf`` lays out (the tests read it without paying for WeasyPrint)."""
    organization = report.organization
    with translation.override(organization.language), timezone.override(report.time_zone):
        return render_to_string("dashboard/report_pdf.html", {
            "report": report, "organization": organization, **presentation_context(report.data),
            "font_regular": (FONTS / "DejaVuSans.ttf").as_uri(), "font_bold": (FONTS / "DejaVuSans-Bold.ttf").as_uri(),
        })


def render_pdf(report: DashboardReport) -> bytes:
    from weasyprint import HTML  # heavy (cairo, pango): loaded when a PDF is made, not at start-up

    return HTML(string=render_html(report), base_url=str(FONTS)).write_pdf()
