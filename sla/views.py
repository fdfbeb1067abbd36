"""Settings > Hours and SLA (Admin, Manager) and the SLA reports (Admin, Manager; Viewer reads them).

Each form posts to its own view, which calls a service; an HTMX request gets the section back (and the
flash message out of band), a plain one is redirected to the page (links and forms work without JS).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError
from lumiodesk.models import Organization

from . import reports, selectors, services
from .forms import BusinessHoursForm, HolidayForm, HolidayImportForm, PoliciesForm, PreviewForm, ReportForm
from .models import Holiday, Metric, SlaReport

SECTIONS = ("hours", "holidays", "policies")


def _settings_context(org: Organization, **forms) -> dict:
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


def _respond(request: HttpRequest, section: str, *, status: int = 200, **forms) -> HttpResponse:
    """After a POST: the section and the flash messages (HTMX), or back to the page."""
    if not request.htmx:
        if status != 200:
            return render(request, "sla/settings.html", _settings_context(request.organization, **forms),
                          status=status)
        return redirect("sla:settings")
    context = _settings_context(request.organization, **forms)
    html = render_to_string(f"sla/settings.html#{section}", context, request=request)
    html += render_to_string("partials/flash.html", {"oob": True}, request=request)
    return HttpResponse(html, status=status)


def _refused_in(section: str):
    """A refused change re-renders its section with the message (``requires(on_refusal=…)``)."""

    def on_refusal(request: HttpRequest, exc: DomainError, **_kw) -> HttpResponse:
        return _respond(request, section, status=exc.status_code)

    return on_refusal


@requires("sla.manage")
@require_GET
def sla_settings(request: HttpRequest) -> HttpResponse:
    return render(request, "sla/settings.html", _settings_context(request.organization))


@requires("sla.manage", on_refusal=_refused_in("hours"))
@require_POST
def hours_save(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = BusinessHoursForm(request.POST, hours=selectors.business_hours(org))
    if not form.is_valid():
        messages.error(request, _("Horaires invalides."))
        return _respond(request, "hours", status=400, hours_form=form)
    services.save_business_hours(organization=org, days=form.cleaned_days(), actor=request.actor)
    messages.success(request, _("Horaires enregistrés. Les échéances des tickets ouverts vont être recalculées."))
    return _respond(request, "hours")


@requires("sla.manage", on_refusal=_refused_in("holidays"))
@require_POST
def holiday_add(request: HttpRequest) -> HttpResponse:
    form = HolidayForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Date invalide."))
        return _respond(request, "holidays", status=400, holiday_form=form)
    services.add_holiday(organization=request.organization, day=form.cleaned_data["date"],
                         name=form.cleaned_data["name"], actor=request.actor)
    messages.success(request, _("Jour férié ajouté."))
    return _respond(request, "holidays")


@requires("sla.manage", on_refusal=_refused_in("holidays"))
@require_POST
def holiday_delete(request: HttpRequest, pk: int) -> HttpResponse:
    holiday = Holiday.objects.filter(organization=request.organization, pk=pk).select_related("organization").first()
    if holiday is None:
        raise Http404("holiday")
    services.delete_holiday(holiday=holiday, actor=request.actor)
    messages.success(request, _("Jour férié supprimé."))
    return _respond(request, "holidays")


@requires("sla.manage", on_refusal=_refused_in("holidays"))
@require_POST
def holiday_import(request: HttpRequest) -> HttpResponse:
    form = HolidayImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choisissez un fichier .ics."))
        return _respond(request, "holidays", status=400)
    upload = form.cleaned_data["file"]
    added = services.import_holidays(organization=request.organization, data=upload.read(1024 * 1024 + 1),
                                     actor=request.actor)
    messages.success(request, _("%(n)s jour(s) férié(s) importé(s).") % {"n": added})
    return _respond(request, "holidays")


@requires("sla.manage", on_refusal=_refused_in("policies"))
@require_POST
def policies_save(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = PoliciesForm(request.POST, policies=selectors.policies(org), pause=selectors.pause_setting(org))
    if not form.is_valid():
        messages.error(request, _("Objectifs invalides."))
        return _respond(request, "policies", status=400, policies_form=form)
    services.save_policies(organization=org, policies=form.cleaned_policies(), actor=request.actor)
    pause = form.cleaned_data["pause_when_waiting_customer"]
    if pause != selectors.pause_setting(org):
        services.save_sla_settings(organization=org, pause_when_waiting_customer=pause, actor=request.actor)
    messages.success(request, _("Politiques SLA enregistrées. Les échéances des tickets ouverts vont être "
                                "recalculées."))
    return _respond(request, "policies")


@requires("sla.manage")
@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """The due times a ticket would get: the same code as for a real ticket (sla.clock.due_times)."""
    form = PreviewForm(request.GET)
    context: dict = {"preview_form": form}
    if form.is_valid():
        first, resolution = services.preview(
            organization=request.organization, priority=form.cleaned_data["priority"],
            created_at=form.cleaned_data["created"],
        )
        context.update(preview_ran=True, first_response_due=first, resolution_due=resolution)
    if not request.htmx:
        return render(request, "sla/settings.html", {**_settings_context(request.organization), **context})
    return render(request, "sla/settings.html#preview-result", context)


# --- reports --------------------------------------------------------------------------------------------------


@requires("reports.view", post="reports.generate")  # Viewers read reports (section 10), not Agents
@require_http_methods(["GET", "POST"])
def report_list(request: HttpRequest) -> HttpResponse:
    org = request.organization
    today = timezone.localdate()
    form = ReportForm(request.POST or None, initial={"start": today - timedelta(days=29), "end": today})
    if request.method == "POST" and form.is_valid():
        try:
            report = reports.generate_report(
                organization=org, start=form.cleaned_data["start"], end=form.cleaned_data["end"],
                granularity=form.cleaned_data["granularity"], actor=request.actor,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Rapport généré."))
            return redirect("sla:report", pk=report.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "reports": selectors.reports(org)[:50]}
    if request.htmx and request.method == "GET":
        return render(request, "sla/reports.html#report-list", context)
    return render(request, "sla/reports.html", context, status=status)


@requires("reports.view")
@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = SlaReport.objects.filter(organization=request.organization, pk=pk).select_related("created_by").first()
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
