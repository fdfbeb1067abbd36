"""Settings > Billing (Admin) and the refunds awaiting approval (Managers, Admins)."""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lumiodesk.access import requires

from . import invoices, refunds, subscriptions
from .catalogue import PLANS, Limit
from .models import Invoice, RefundRequest, RefundStatus, SubscriptionStatus
from .proration import prorate
from .services import limit_status, plan_of


def _invoice_for(request: HttpRequest, pk: int) -> Invoice:
    invoice = Invoice.objects.filter(organization=request.organization, pk=pk).first()
    if invoice is None:
        raise Http404
    return invoice


def _refund_for(request: HttpRequest, pk: int) -> RefundRequest:
    refund = RefundRequest.objects.filter(organization=request.organization, pk=pk).select_related("ticket").first()
    if refund is None:
        raise Http404
    return refund


def _back(request: HttpRequest, **kwargs) -> str:
    return "/settings/billing/"


@requires("billing.manage", back=_back)
@require_GET
def billing_settings(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    now = timezone.now()
    sub = subscriptions.subscription_of(organization)
    state = subscriptions.state_of(organization)
    spec = plan_of(organization)
    seats = subscriptions.seats_used(organization)
    included = spec.limits[Limit.AGENTS_INCLUDED]
    tickets = limit_status(organization, Limit.TICKETS_PER_MONTH)
    lines, estimate_total = invoices.estimate(organization, now=now)
    active = sub.status == SubscriptionStatus.ACTIVE
    plans = []
    for code, p in PLANS.items():
        amount, days, total = prorate(PLANS[sub.plan].monthly_price_eur if active else 0, p.monthly_price_eur, now)
        plans.append({"spec": p, "current": active and sub.plan == code, "prorated": amount, "days": days,
                      "days_in_month": total, "upgrade": not active or p.monthly_price_eur > spec.monthly_price_eur})
    return render(request, "billing/settings.html", {
        "sub": sub, "status": state.effective_status(now), "trial_days_left": state.trial_days_left(now),
        "spec": spec, "seats": seats, "included": included, "extra_seats": max(seats - included, 0),
        "tickets": tickets, "bar": min(tickets.percent, 100),
        "estimate_lines": lines, "estimate_total": estimate_total, "plans": plans,
        "invoices": Invoice.objects.filter(organization=organization).defer("pdf").order_by("-period"),
        "read_only_reason": state.read_only_reason(now) or "",
        "exports_page": None,  # no full-export page exists yet (see the template)
    })


@requires("billing.manage", back=_back)
@require_http_methods(["GET", "POST"])
def change_plan(request: HttpRequest) -> HttpResponse:
    """GET: the chosen plan with its prorated amount and, for a smaller plan, the choice of what to
    deactivate; POST: the change, at once."""
    organization = request.organization
    plan = request.POST.get("plan") or request.GET.get("plan", "")
    if plan not in PLANS:
        messages.error(request, _("Choisissez un forfait."))
        return redirect("billing:settings")
    if request.method == "POST":
        subscriptions.choose_plan(
            actor=request.actor, organization=organization, plan=plan,
            keep_extra_agents=request.POST.get("agents") == "keep",
            deactivate_members=[int(x) for x in request.POST.getlist("member") if x.isdigit()],
            deactivate_rules=[int(x) for x in request.POST.getlist("rule") if x.isdigit()],
        )
        messages.success(request, _("Votre forfait est maintenant %(plan)s.") % {"plan": PLANS[plan].name})
        return redirect("billing:settings")
    sub = subscriptions.subscription_of(organization)
    active = sub.status == SubscriptionStatus.ACTIVE
    old = PLANS[sub.plan] if active else None
    amount, days, total = prorate(old.monthly_price_eur if old else 0, PLANS[plan].monthly_price_eur, timezone.now())
    return render(request, "billing/change_plan.html", {
        "plan": PLANS[plan], "old": old, "amount": amount, "credit": -amount, "days": days,
        "days_in_month": total, "conflicts": [
            # the Admin choosing cannot deactivate themself: not offered
            dataclasses.replace(c, items=[(i, label) for i, label in c.items if i != request.membership.pk])
            if c.limit == Limit.AGENTS_INCLUDED else c
            for c in subscriptions.conflicts(organization, plan)
        ],
        "same": active and sub.plan == plan,
    })


@requires("billing.manage", back=_back)
@require_http_methods(["GET", "POST"])
def cancel_subscription(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, _("Cochez la case pour confirmer la résiliation."))
            return redirect("billing:cancel")
        subscriptions.cancel(actor=request.actor, organization=request.organization)
        messages.success(request, _("Abonnement résilié : l'organisation est en lecture seule pendant 30 jours."))
        return redirect("billing:settings")
    return render(request, "billing/cancel.html", {"sub": subscriptions.subscription_of(request.organization)})


@requires("billing.manage", back=_back)
@require_GET
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for(request, pk)
    response = HttpResponse(invoices.pdf_of(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.reference}.pdf"'
    return response


@requires("billing.manage", back=_back)
@require_POST
def invoice_paid(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = invoices.mark_paid(actor=request.actor, invoice=_invoice_for(request, pk))
    messages.success(request, _("Facture %(ref)s marquée payée.") % {"ref": invoice.reference})
    return redirect("billing:settings")


@requires("refunds.approve")
@require_GET
def pending_refunds(request: HttpRequest) -> HttpResponse:
    items = [(r, refunds.may_decide(request.actor, r)) for r in refunds.pending_for(request.organization)[:200]]
    return render(request, "billing/refunds.html", {"items": items, "large": refunds.LARGE})


@requires("refunds.approve", back=lambda request, **kw: "/settings/billing/refunds/")
@require_POST
def decide_refund(request: HttpRequest, pk: int) -> HttpResponse:
    refund = refunds.decide_refund(actor=request.actor, refund=_refund_for(request, pk),
                                   approve=request.POST.get("decision") == "approve",
                                   note=request.POST.get("note", ""))
    if refund.status == RefundStatus.APPROVED:
        messages.success(request, _("Remboursement de %(amount)s EUR approuvé (ticket #%(n)s).")
                         % {"amount": refund.amount, "n": refund.ticket.number})
    else:
        messages.success(request, _("Remboursement refusé (ticket #%(n)s).") % {"n": refund.ticket.number})
    return redirect("billing:refunds")
