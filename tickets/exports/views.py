"""Reports > Exports: the tickets CSV (the console list's filters and/or a period) with the month's quota, the
full archive, the exports of the last weeks with their progress and download links."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import services as billing
from billing.catalogue import PLANS, Feature
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError

from ..models import Priority, Status
from ..selectors import TicketFilters
from . import services
from .models import Export, ExportState


class PeriodForm(forms.Form):
    period_start = forms.DateField(label=gettext_lazy("Créés à partir du"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label=gettext_lazy("jusqu'au (inclus)"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))


def _list_context(org) -> dict:
    exports = services.exports_of(org)
    return {"exports": exports, "building": any(e.state in (ExportState.PENDING, ExportState.RUNNING)
                                                for e in exports)}


def _filter_summary(filters: dict[str, str]) -> list[tuple[str, str]]:
    labels = {"status": _("Statut"), "priority": _("Priorité"), "assignee": _("Responsable"), "tag": _("Tag"),
              "customer": _("Client"), "q": _("Recherche"), "sla": _("SLA"), "automatic": _("Automatique"),
              "sort": _("Tri")}
    values = {**dict(Status.choices), **dict(Priority.choices), "in_progress": _("En cours"), "me": _("moi"),
              "none": _("personne")}
    return [(labels[k], str(values.get(v, v))) for k, v in filters.items() if k != "sort"]


def _page(request: HttpRequest, form: PeriodForm, filters: TicketFilters, *, status: int = 200) -> HttpResponse:
    org = request.organization
    quota = services.quota_of(org)
    return render(request, "exports/home.html", {
        "form": form, "filters": filters.as_dict(), "filters_query": urlencode(filters.as_dict()),
        "summary": _filter_summary(filters.as_dict()),
        "quota": quota, "plan": billing.plan_of(org),
        "archive_available": billing.has_feature(org, Feature.FULL_ARCHIVE),
        "archive_plans": ", ".join(p.name for p in PLANS.values() if Feature.FULL_ARCHIVE in p.features),
        "link_days": services.LINK_DAYS, **_list_context(org),
    }, status=status)


@requires("exports.create")
@require_http_methods(["GET", "POST"])
def export_home(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, PeriodForm(), TicketFilters.from_params(request.GET))
    form = PeriodForm(request.POST)
    filters = TicketFilters.from_params(request.POST)
    if not form.is_valid():
        return _page(request, form, filters, status=400)
    try:
        services.start_tickets_export(organization=request.organization, actor=request.actor, filters=filters,
                                      period_start=form.cleaned_data["period_start"],
                                      period_end=form.cleaned_data["period_end"])
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, exc.message)
        return _page(request, form, filters, status=exc.status_code)
    messages.success(request, _("Export lancé : il se prépare en arrière-plan, le lien apparaît ci-dessous."))
    return redirect("exports:home")


@requires("exports.archive")
@require_POST
def export_archive(request: HttpRequest) -> HttpResponse:
    services.start_archive(organization=request.organization, actor=request.actor)
    messages.success(request, _("Archive complète lancée : elle se prépare en arrière-plan, le lien apparaît "
                                "ci-dessous."))
    return redirect("exports:home")


@requires("exports.create")
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    """The exports table alone (HTMX polls it while one is being built)."""
    return render(request, "exports/home.html#exports", _list_context(request.organization))


@requires("exports.create")
@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(Export.objects.select_related("organization"), pk=pk,
                               organization=request.organization)
    try:
        file = services.open_download(export=export, actor=request.actor)
    except services.ExportGone as exc:
        messages.error(request, exc.message)
        return _page(request, PeriodForm(), TicketFilters.from_params({}), status=410)
    return FileResponse(file, as_attachment=True, filename=export.filename,
                        content_type="application/zip" if export.filename.endswith(".zip") else "text/csv")

