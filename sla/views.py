"""Settings > Hours and SLA (Admin, Manager) and the SLA reports (Admin, Manager; Viewer reads them).

Each form posts to its own view, which calls a service; an HTMX request gets the section back (and the
flash message out of band), a plain one is redirected to the page (links and forms work without JS).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lumiodesk.access import require_membership
from lumiodesk.exceptions import DomainError
from lumiodesk.models import Holiday, Membership, Role

from . import reports, selectors, services
from .forms import BusinessHoursForm, HolidayForm, HolidayImportForm, PoliciesForm, PreviewForm, ReportForm
from .models import Metric, SlaReport

SECTIONS = ("hours", "holidays", "policies")


def _settings_context(membership: Membership, **forms) -> dict:
    org = membership.organization
    now_local = timezone.localtime(timezone.now())
    return {
        "organization": org,
        "hours_form": forms.get("hours_form") or BusinessHoursForm(hours=selectors.business_hours(org)),
        "holidays": list(selectors.holidays(org)),
        "holiday_form": forms.get("holiday_form") or HolidayForm(),
        "import_form": HolidayImportForm(),
        "policies_form": forms.get("policies_form") or PoliciesForm(
            policies=selectors.policies(org), pause=selectors.pause_setting(org)
        ),
        "warning_leads": selectors.warning_leads(),
        "preview_form": PreviewForm(initial={"created": now_local.replace(second=0, microsecond=0)}),
    }


def _respond(request: HttpRequest, membership: Membership, section: str, *, status: int = 200, **forms) -> HttpResponse:
    """After a POST: the section and the flash messages (HTMX), or back to the page."""
    if not request.htmx:
        if status != 200:
            return render(request, "sla/settings.html", _settings_context(membership, **forms), status=status)
        return redirect("sla:settings")
    context = _settings_context(membership, **forms)
    html = render_to_string(f"sla/settings.html#{section}", context, request=request)
    html += render_to_string("partials/flash.html", {"oob": True}, request=request)
    return HttpResponse(html, status=status)


def _refused(request: HttpRequest, membership: Membership, section: str, exc: DomainError) -> HttpResponse:
    messages.error(request, exc.message)
    return _respond(request, membership, section, status=exc.status_code)


@login_required
@require_GET
def sla_settings(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    return render(request, "sla/settings.html", _settings_context(membership))


@login_required
@require_POST
def hours_save(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    org = membership.organization
    form = BusinessHoursForm(request.POST, hours=selectors.business_hours(org))
    if not form.is_valid():
        messages.error(request, _("Horaires invalides."))
        return _respond(request, membership, "hours", status=400, hours_form=form)
    try:
        services.save_business_hours(organization=org, days=form.cleaned_days(), actor=request.user)
    except DomainError as exc:
        return _refused(request, membership, "hours", exc)
    messages.success(request, _("Horaires enregistrés. Les échéances des tickets ouverts vont être recalculées."))
    return _respond(request, membership, "hours")


@login_required
@require_POST
def holiday_add(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    form = HolidayForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Date invalide."))
        return _respond(request, membership, "holidays", status=400, holiday_form=form)
    try:
        services.add_holiday(organization=membership.organization, day=form.cleaned_data["date"],
                             name=form.cleaned_data["name"], actor=request.user)
    except DomainError as exc:
        return _refused(request, membership, "holidays", exc)
    messages.success(request, _("Jour férié ajouté."))
    return _respond(request, membership, "holidays")


@login_required
@require_POST
def holiday_delete(request: HttpRequest, pk: int) -> HttpResponse:
    membership = require_membership(request, manage=True)
    holiday = Holiday.objects.filter(organization=membership.organization, pk=pk).select_related("organization").first()
    if holiday is None:
        raise Http404("holiday")
    services.delete_holiday(holiday=holiday, actor=request.user)
    messages.success(request, _("Jour férié supprimé."))
    return _respond(request, membership, "holidays")


@login_required
@require_POST
def holiday_import(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    form = HolidayImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choisissez un fichier .ics."))
        return _respond(request, membership, "holidays", status=400)
    upload = form.cleaned_data["file"]
    try:
        added = services.import_holidays(organization=membership.organization, data=upload.read(1024 * 1024 + 1),
                                         actor=request.user)
    except DomainError as exc:
        return _refused(request, membership, "holidays", exc)
    messages.success(request, _("%(n)s jour(s) férié(s) importé(s).") % {"n": added})
    return _respond(request, membership, "holidays")


@login_required
@require_POST
def policies_save(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    org = membership.organization
    form = PoliciesForm(request.POST, policies=selectors.policies(org), pause=selectors.pause_setting(org))
    if not form.is_valid():
        messages.error(request, _("Objectifs invalides."))
        return _respond(request, membership, "policies", status=400, policies_form=form)
    try:
        services.save_policies(organization=org, policies=form.cleaned_policies(), actor=request.user)
        pause = form.cleaned_data["pause_when_waiting_customer"]
        if pause != selectors.pause_setting(org):
            services.save_sla_settings(organization=org, pause_when_waiting_customer=pause, actor=request.user)
    except DomainError as exc:
        return _refused(request, membership, "policies", exc)
    messages.success(request, _("Politiques SLA enregistrées. Les échéances des tickets ouverts vont être "
                                "recalculées."))
    return _respond(request, membership, "policies")


@login_required
@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """The due times a ticket would get: the same code as for a real ticket (sla.clock.due_times)."""
    membership = require_membership(request, manage=True)
    form = PreviewForm(request.GET)
    context: dict = {"preview_form": form}
    if form.is_valid():
        first, resolution = services.preview(
            organization=membership.organization, priority=form.cleaned_data["priority"],
            created_at=form.cleaned_data["created"],
        )
        context.update(preview_ran=True, first_response_due=first, resolution_due=resolution)
    if not request.htmx:
        return render(request, "sla/settings.html", {**_settings_context(membership), **context})
    return render(request, "sla/settings.html#preview-result", context)


# --- reports --------------------------------------------------------------------------------------------------


def _report_reader(request: HttpRequest) -> Membership:
    """Reports are read by Admins, Managers and Viewers (section 10), not by Agents."""
    membership = require_membership(request)
    if not (membership.can_manage or membership.role == Role.VIEWER):
        raise PermissionDenied("reports")
    return membership


@login_required
@require_http_methods(["GET", "POST"])
def report_list(request: HttpRequest) -> HttpResponse:
    membership = _report_reader(request)
    org = membership.organization
    today = timezone.localdate()
    form = ReportForm(request.POST or None, initial={"start": today - timedelta(days=29), "end": today})
    if request.method == "POST":
        if not membership.can_manage:
            raise PermissionDenied("manager role required")
        if form.is_valid():
            try:
                report = reports.generate_report(
                    organization=org, start=form.cleaned_data["start"], end=form.cleaned_data["end"],
                    granularity=form.cleaned_data["granularity"], actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Rapport généré."))
                return redirect("sla:report", pk=report.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "reports": selectors.reports(org)[:50], "can_manage": membership.can_manage}
    if request.htmx and request.method == "GET":
        return render(request, "sla/reports.html#report-list", context)
    return render(request, "sla/reports.html", context, status=status)


@login_required
@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _report_reader(request)
    report = SlaReport.objects.filter(organization=membership.organization, pk=pk).select_related("created_by").first()
    if report is None:
        raise Http404("report")
    data = report.data
    sections = [
        (_("Par priorité"), "priority", data.get("by_priority", [])),
        (_("Par agent"), "agent", data.get("by_agent", [])),
        (_("Par période"), "period", data.get("by_period", [])),
    ]
    return render(request, "sla/report.html",
                  {"report": report, "data": data, "metrics": Metric.choices, "sections": sections})
