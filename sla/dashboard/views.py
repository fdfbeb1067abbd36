"""Reports > Tableau de bord: the figures (Admins, Managers; Viewers read), the PDF reports of a period.

The page is a GET form (its filters are in the URL, so a view of the dashboard can be shared as a link);
every figure links to the ticket list filtered to what it counts.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.models import Company
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError
from lumiodesk.teams import teams_of
from tickets import selectors as ticket_selectors
from tickets.costs import selectors as cost_selectors

from ..models import DashboardReport
from . import figures, reports, weekly
from .forms import DashboardForm
from .presentation import presentation_context

DEFAULT_DAYS = 30
MAX_BUDGETS = 20  # the panel shows the budgets most at risk; the cost dashboard has them all
MAX_COMPANIES = 500  # the filter offers the first 500 companies by name (a choice field: another id is refused)


def _filters(request: HttpRequest, form: DashboardForm) -> figures.DashboardFilters:
    today = timezone.localdate()
    default = figures.DashboardFilters(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)
    if not form.is_bound or not form.is_valid():
        return default
    data = form.cleaned_data
    start, end = data["start"] or default.start, data["end"] or default.end
    return figures.DashboardFilters(start=start, end=end, agent=data["agent"], channel=data["channel"],
                                    priority=data["priority"], tag=data["tag"], company=data["company"],
                                    team=data.get("team"))


def _form(request: HttpRequest, data) -> DashboardForm:
    org = request.organization
    today = timezone.localdate()
    bound = data if any(data.get(k) for k in ("start", "end", "agent", "channel", "priority", "tag", "company",
                                              "team")) else None
    companies = Company.objects.filter(organization=org).order_by("name").only("id", "name")[:MAX_COMPANIES]
    return DashboardForm(bound, team=ticket_selectors.team(org), tags=ticket_selectors.tags_of(org),
                         companies=list(companies), teams=teams_of(org),
                         initial={"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today})


@requires("dashboard.view")
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = _form(request, request.GET)
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    f = _filters(request, form)
    try:
        reports.check_period(f)
    except DomainError as exc:
        form.add_error(None, exc.message)
        f, status = _filters(request, _form(request, {})), 400
    data = reports.compose(org, f, now=timezone.now(), time_zone=org.time_zone)
    context = {
        "form": form, **presentation_context(data),
        "filter_query": f.as_params(),
        "saved_reports": list(DashboardReport.objects.filter(organization=org).order_by("-created_at")[:10]),
        "weekly_report": request.can.reports_generate and weekly.is_subscribed(org, request.user),
    }
    if request.htmx:  # the filter form: the figures only, with the error if any (htmx swaps only a 2xx answer)
        return render(request, "dashboard/dashboard.html#figures", context)
    if request.can.costs_view:  # the budgets of the current period (crm.budgets, costed by tickets.costs)
        context["budgets"], context["budgets_total"] = cost_selectors.current_budget_statuses(
            org.pk, timezone.localdate(), limit=MAX_BUDGETS)
    return render(request, "dashboard/dashboard.html", context, status=status)


@requires("dashboard.view", post="reports.generate")
@require_POST
def report_create(request: HttpRequest) -> HttpResponse:
    form = _form(request, request.POST)
    if not form.is_valid():
        messages.error(request, _("Période invalide."))
        return redirect("sla:dashboard")
    f = _filters(request, form)
    report = reports.generate_report(organization=request.organization, filters=f, actor=request.actor)
    messages.success(request, _("Rapport enregistré (fuseau horaire %(tz)s).") % {"tz": report.time_zone})
    return redirect("sla:dashboard_pdf", pk=report.pk)


@requires("dashboard.view")
@require_GET
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    report = DashboardReport.objects.filter(organization=request.organization, pk=pk).select_related(
        "organization").first()
    if report is None:
        raise Http404("report")
    response = HttpResponse(reports.render_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="tableau-de-bord-{report.start}-{report.end}.pdf"'
    return response


@requires("dashboard.view", post="reports.generate")
@require_POST
def weekly_report(request: HttpRequest) -> HttpResponse:
    """Opt in to (or out of) the weekly PDF report by email, for oneself."""
    enabled = request.POST.get("enabled") == "1"
    weekly.set_weekly_report(actor=request.actor, organization=request.organization, enabled=enabled)
    messages.success(request, _("Vous recevrez le rapport chaque lundi matin.") if enabled
                     else _("Vous ne recevrez plus le rapport hebdomadaire."))
    return redirect("sla:dashboard")
