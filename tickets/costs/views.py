"""Time on the ticket page (manual entries and the timer), hourly costs, budgets and the cost dashboard.
Views parse, authorize, call ``services`` / ``crm.rates`` / ``crm.budgets``, render."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.invoices import FONTS
from crm import budgets as crm_budgets
from crm import rates
from crm.models import Budget, BudgetPeriod, Company
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError, InvalidInput
from lumiodesk.models import Membership

from ..access import get_ticket_for
from ..exports.files import safe_cell
from . import charts, selectors, services
from .customer_views import get_company_for, get_customer_for
from .models import TimeEntry


def _day(value: str | None, default: date | None = None) -> date | None:
    if not value:
        return default
    try:
        parsed = parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidInput(_("Date invalide : %(v)s") % {"v": value})
    return parsed


# --- the ticket page's block ---------------------------------------------------------------------------


def _block(request: HttpRequest, ticket, *, error: str = "", status: int = 200) -> HttpResponse:
    customer = ticket.customer
    today = timezone.localdate()
    budgets = selectors.budgets_covering(organization_id=ticket.organization_id, customer_id=customer.pk,
                                         company_id=customer.company_id, day=today)
    entries = selectors.entries_of_ticket(ticket)
    timer = next((e for e in entries if e.running and e.user_id == request.user.pk), None)
    may_manage = request.can.time_manage
    return render(request, "tickets/costs/ticket_time.html", {
        "ticket": ticket, "entries": entries, "timer": timer, "today": today, "error": error,
        "total_minutes": sum(e.minutes for e in entries if not e.running),
        "total_cost": sum((e.cost for e in entries if not e.running), start=0),
        "editable": {e.pk for e in entries if request.can.time_log and (may_manage or e.user_id == request.user.pk)},
        "budgets": selectors.budget_statuses(budgets, today),
    }, status=status)


@requires("tickets.view")
@require_GET
def ticket_time(request: HttpRequest, number: int) -> HttpResponse:
    return _block(request, get_ticket_for(request, number))


def _after(request: HttpRequest, ticket, message: str) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:
        return _block(request, ticket)
    return redirect("tickets:detail", number=ticket.number)


@requires("time.log")
@require_POST
def time_log(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    try:
        entry = services.log_time(actor=request.actor, ticket=ticket, minutes=request.POST.get("duration", ""),
                                  day=_day(request.POST.get("date")), note=request.POST.get("note", ""))
    except InvalidInput as exc:
        if request.htmx:
            return _block(request, ticket, error=exc.message, status=400)
        raise
    return _after(request, ticket, _("%(m)s min enregistrées.") % {"m": entry.minutes})


@requires("time.log")
@require_POST
def timer(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    if request.POST.get("action") == "stop":
        entry = services.stop_timer(actor=request.actor, ticket=ticket)
        message = (_("Chronomètre arrêté : %(m)s min enregistrées.") % {"m": entry.minutes} if entry
                   else _("Aucun chronomètre en cours sur ce ticket."))
    else:
        services.start_timer(actor=request.actor, ticket=ticket, note=request.POST.get("note", ""))
        message = _("Chronomètre démarré.")
    return _after(request, ticket, message)


def get_entry_for(request: HttpRequest, pk: int) -> TimeEntry:
    return get_object_or_404(TimeEntry.objects.select_related("ticket", "user"),
                             organization_id=request.organization.pk, pk=pk)


@requires("time.log")
@require_http_methods(["GET", "POST"])
def entry_edit(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_entry_for(request, pk)
    error = ""
    if request.method == "POST":
        try:
            services.update_entry(actor=request.actor, entry=entry, minutes=request.POST.get("duration", ""),
                                  day=_day(request.POST.get("date"), entry.date), note=request.POST.get("note", ""))
        except InvalidInput as exc:
            error = exc.message
        else:
            messages.success(request, _("Temps modifié."))
            return redirect("tickets:detail", number=entry.ticket.number)
    return render(request, "tickets/costs/entry_edit.html", {"entry": entry, "error": error,
                                                             "post": request.POST}, status=400 if error else 200)


@requires("time.log")
@require_POST
def entry_delete(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_entry_for(request, pk)
    services.delete_entry(actor=request.actor, entry=entry)
    return _after(request, entry.ticket, _("Temps supprimé."))


# --- Settings > Hourly costs -------------------------------------------------------------------------------


@requires("rates.view", post="rates.manage")
@require_http_methods(["GET", "POST"])
def rate_settings(request: HttpRequest) -> HttpResponse:
    org = request.organization
    error = ""
    if request.method == "POST":
        user_id = request.POST.get("user", "")
        user = get_user_model().objects.filter(pk=int(user_id), memberships__organization=org).first() if (
            user_id.isdigit()) else None
        try:
            if user is None:
                raise InvalidInput(_("Choisissez un membre de l'organisation."))
            rates.set_rate(actor=request.actor, organization=org, user=user, amount=request.POST.get("amount"),
                           effective_from=_day(request.POST.get("effective_from"), timezone.localdate()))
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Coût horaire enregistré."))
            return redirect("costs:rates")
    members = list(Membership.objects.filter(organization=org, is_active=True).select_related("user")
                   .order_by("user__last_name", "user__email"))
    history = rates.history(org)
    today = timezone.localdate()
    current = rates.in_force(history, today)
    return render(request, "tickets/costs/rates.html", {
        "members": [(m, current.get(m.user_id)) for m in members], "history": history, "today": today,
        "error": error}, status=400 if error else 200)


# --- budgets -----------------------------------------------------------------------------------------------


@requires("budgets.manage")
@require_POST
def budget_save(request: HttpRequest) -> HttpResponse:
    company_id, customer_id = request.POST.get("company", ""), request.POST.get("customer", "")
    company = get_company_for(request, int(company_id)) if company_id.isdigit() else None
    customer = get_customer_for(request, int(customer_id)) if customer_id.isdigit() and company is None else None
    if company is None and customer is None:
        raise InvalidInput(_("Un budget porte sur une entreprise ou sur un client."))
    try:
        crm_budgets.save_budget(actor=request.actor, organization=request.organization,
                                period=request.POST.get("period", ""), amount=request.POST.get("amount", ""),
                                day=_day(request.POST.get("start"), timezone.localdate()),
                                company=company, customer=customer)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Budget enregistré."))
    return redirect("customers:company", pk=company.pk) if company else redirect("customers:detail", pk=customer.pk)


@requires("budgets.manage")
@require_POST
def budget_delete(request: HttpRequest, pk: int) -> HttpResponse:
    budget = get_object_or_404(Budget, organization=request.organization, pk=pk)
    crm_budgets.delete_budget(actor=request.actor, budget=budget)
    messages.success(request, _("Budget supprimé."))
    if budget.company_id:
        return redirect("customers:company", pk=budget.company_id)
    return redirect("customers:detail", pk=budget.customer_id)


# --- the cost dashboard -------------------------------------------------------------------------------------


def _month(value: str | None, default: date) -> date:
    """The first day of the month a person chose ("2025-03" from a month input, or a full date)."""
    if not value:
        return default.replace(day=1)
    return _day(value + "-01" if len(value) == 7 else value).replace(day=1)


def _filters(request: HttpRequest) -> selectors.Filters:
    """Whole months (budgets and the rollup are monthly): from the first day of ``start``'s month to the
    last day of ``end``'s; by default this month and the two before."""
    today = timezone.localdate()
    two_months_ago = ((today.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)).replace(day=1)
    start = _month(request.GET.get("start"), two_months_ago)
    end = _month(request.GET.get("end"), today)
    if end < start:
        raise InvalidInput(_("La date de fin précède la date de début."))
    end = (end + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    ids = {k: int(v) if (v := request.GET.get(k, "")).isdigit() else None for k in ("company", "customer", "agent")}
    return selectors.Filters(start=start, end=end, company_id=ids["company"], customer_id=ids["customer"],
                             user_id=ids["agent"])


@requires("costs.view")
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    org = request.organization
    f = _filters(request)
    data = selectors.dashboard(org.pk, f)
    budgets = selectors.budgets_in(org.pk, f, timezone.localdate())
    return render(request, "tickets/costs/dashboard.html", {
        **data, "f": f, "budgets": budgets, "budget_chart": charts.budget_bars(budgets),
        "month_chart": charts.month_bars(data["per_month"]),
        "companies": Company.objects.filter(organization=org).order_by("name").only("pk", "name")[:500],
        "agents": Membership.objects.filter(organization=org).select_related("user").order_by("user__last_name"),
        "query": request.GET.urlencode(), "periods": BudgetPeriod.choices,
    })


@requires("costs.view")
@require_GET
def dashboard_pdf(request: HttpRequest) -> HttpResponse:
    """The same figures as a PDF (WeasyPrint, the fonts billing ships: no network)."""
    from weasyprint import HTML  # heavy (cairo, pango): loaded when a PDF is made, not at start-up

    org = request.organization
    f = _filters(request)
    html = render_to_string("tickets/costs/dashboard_pdf.html", {
        **selectors.dashboard(org.pk, f), "f": f, "organization": org,
        "budgets": selectors.budgets_in(org.pk, f, timezone.localdate()),
        "font_regular": (FONTS / "DejaVuSans.ttf").as_uri(), "font_bold": (FONTS / "DejaVuSans-Bold.ttf").as_uri(),
    }, request=request)
    response = HttpResponse(HTML(string=html, base_url=str(FONTS)).write_pdf(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="couts-{f.start}-{f.end}.pdf"'
    return response


class _Echo:
    def write(self, value):
        return value


@requires("costs.view")
@require_GET
def dashboard_csv(request: HttpRequest) -> StreamingHttpResponse:
    f = _filters(request)
    writer = csv.writer(_Echo(), delimiter=";")
    header = [_("Date"), _("Ticket"), _("Sujet"), _("Client"), _("Entreprise"), _("Agent"), _("Minutes"),
              _("Coût horaire (EUR)"), _("Coût (EUR)"), _("Note")]

    def rows():
        yield "\ufeff" + writer.writerow(header)
        for row in selectors.csv_rows(request.organization.pk, f):
            yield writer.writerow(["" if v is None else safe_cell(v) for v in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="couts-{f.start}-{f.end}.csv"'
    return response

