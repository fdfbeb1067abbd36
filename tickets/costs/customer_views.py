"""Customer and company records in the console (001 §1): lists with search, the record (details and their
history, tickets with status and satisfaction, time and cost to date, budgets), editing, merging.

They live in ``tickets`` because they show tickets; the rules are in ``crm.services`` (details),
``tickets.costs.services`` (merge) and ``crm.budgets`` (budgets)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from crm import services as crm_services
from crm.models import (
    BudgetPeriod,
    Company,
    Customer,
    CustomerContactChoice,
    company_search_expression,
    customer_search_expression,
)
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError

from .. import selectors as ticket_selectors
from . import selectors, services

PAGE_SIZE = 50


def get_customer_for(request: HttpRequest, pk: int) -> Customer:
    return get_object_or_404(Customer.objects.select_related("company"), organization=request.organization, pk=pk)


def get_company_for(request: HttpRequest, pk: int) -> Company:
    return get_object_or_404(Company, organization=request.organization, pk=pk)


def _page(request: HttpRequest) -> int:
    value = request.GET.get("page", "1")
    return max(int(value), 1) if value.isdigit() and len(value) < 7 else 1


def _window(qs, page: int) -> tuple[list, bool]:
    """One page and whether another follows, without counting 100,000 rows."""
    rows = list(qs[(page - 1) * PAGE_SIZE: page * PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@requires("customers.view")
def customer_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    qs = Customer.objects.filter(organization=request.organization).select_related("company")
    if q:
        qs = qs.alias(_hay=customer_search_expression()).filter(_hay__contains=q.lower())
    page = _page(request)
    customers, more = _window(qs.order_by("last_name", "first_name", "id"), page)
    return render(request, "tickets/customers/list.html", {
        "customers": customers, "q": q, "page": page, "has_next": more, "tab": "customers"})


@requires("customers.view")
def company_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    qs = Company.objects.filter(organization=request.organization)
    if q:
        qs = qs.alias(_hay=company_search_expression()).filter(_hay__contains=q.lower())
    page = _page(request)
    companies, more = _window(qs.order_by("name", "id"), page)
    return render(request, "tickets/customers/companies.html", {
        "companies": companies, "q": q, "page": page, "has_next": more, "tab": "companies"})


class CustomerForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("Prénom"), max_length=100, required=False)
    last_name = forms.CharField(label=gettext_lazy("Nom"), max_length=100, required=False)
    email = forms.EmailField(label=gettext_lazy("Email"))
    phone = forms.CharField(label=gettext_lazy("Téléphone"), max_length=40, required=False)
    company = forms.ModelChoiceField(label=gettext_lazy("Entreprise"), queryset=Company.objects.none(),
                                     required=False)
    notification_preference = forms.ChoiceField(label=gettext_lazy("Notifications"),
                                                choices=CustomerContactChoice.choices)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["company"].queryset = Company.objects.filter(organization=organization).order_by("name")


class CompanyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Nom"), max_length=200)
    domain = forms.CharField(label=gettext_lazy("Domaine"), max_length=200, required=False)


def _record_context(request: HttpRequest, *, customer: Customer | None = None, company: Company | None = None) -> dict:
    today = timezone.localdate()
    if customer is not None:
        tickets = selectors.tickets_of_customer(customer)
        totals = selectors.totals_of_customer(customer)
        budgets = selectors.budgets_of(customer=customer)
        if customer.company_id:  # the company's budgets count this customer's time too
            budgets += selectors.budgets_of(company=customer.company)
        history = crm_services.history(request.organization, target_type="customer", target_id=customer.pk)
    else:
        tickets = selectors.tickets_of_company(company)
        totals = selectors.totals_of_company(company)
        budgets = selectors.budgets_of(company=company)
        history = crm_services.history(request.organization, target_type="company", target_id=company.pk)
    return {"customer": customer, "company": company, "tickets": tickets, "totals": totals,
            "budgets": selectors.budget_statuses(budgets, today), "history": history,
            "periods": BudgetPeriod.choices, "today": today}


@requires("customers.view")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_customer_for(request, pk)
    context = _record_context(request, customer=customer)
    context["members"] = (Customer.objects.filter(organization=request.organization, company_id=customer.company_id)
                          .exclude(pk=customer.pk).order_by("last_name")[:10] if customer.company_id else [])
    context["failed_email"] = ticket_selectors.failed_email_of_customer(customer)
    return render(request, "tickets/customers/detail.html", context)


@requires("customers.view")
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_company_for(request, pk)
    context = _record_context(request, company=company)
    context["members"] = list(Customer.objects.filter(organization=request.organization, company=company)
                              .order_by("last_name", "first_name")[:50])
    return render(request, "tickets/customers/company.html", context)


@requires("customers.edit")
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_customer_for(request, pk)
    initial = {f: getattr(customer, f) for f in crm_services.CUSTOMER_FIELDS}
    form = CustomerForm(request.POST or None, initial=initial, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        try:
            crm_services.update_customer(actor=request.actor, customer=customer, data=dict(form.cleaned_data))
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Fiche client enregistrée."))
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "tickets/customers/edit.html", {"form": form, "customer": customer},
                  status=400 if form.errors else 200)


@requires("customers.edit")
@require_http_methods(["GET", "POST"])
def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_company_for(request, pk)
    form = CompanyForm(request.POST or None, initial={"name": company.name, "domain": company.domain})
    if request.method == "POST" and form.is_valid():
        try:
            crm_services.update_company(actor=request.actor, company=company, data=dict(form.cleaned_data))
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Fiche entreprise enregistrée."))
            return redirect("customers:company", pk=company.pk)
    return render(request, "tickets/customers/edit.html", {"form": form, "company": company},
                  status=400 if form.errors else 200)


@requires("customers.merge")
@require_http_methods(["GET", "POST"])
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge another customer (found by email) into this one: its tickets come here, it disappears."""
    customer = get_customer_for(request, pk)
    error = ""
    email = request.POST.get("email", "").strip()[:254]
    if request.method == "POST":
        other = Customer.objects.filter(organization=request.organization).with_email(email).first()
        if other is None:
            error = _("Aucun client avec l'adresse %(email)s.") % {"email": email or "—"}
        else:
            try:
                services.merge_customers(actor=request.actor, keep=customer, absorb=other)
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(request, _("%(other)s a été fusionné dans cette fiche.") % {"other": email})
                return redirect("customers:detail", pk=customer.pk)
    return render(request, "tickets/customers/merge.html", {"customer": customer, "error": error, "email": email},
                  status=400 if error else 200)
