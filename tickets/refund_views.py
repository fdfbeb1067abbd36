"""The ticket page's refunds block (section 15): an agent asks a commercial refund on the ticket; the block
lists the ticket's requests and their decisions. The rules live in ``billing.refunds`` (below tickets);
approvers decide from Settings > Refunds to approve (``billing.views``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing import refunds
from lumiodesk.access import requires
from lumiodesk.exceptions import InvalidInput

from .access import get_ticket_for


def _block(request: HttpRequest, ticket, *, error: str = "", form: dict | None = None) -> HttpResponse:
    return render(request, "billing/partials/ticket_refunds.html", {
        "ticket": ticket, "refunds": refunds.of_ticket(ticket), "error": error, "form": form or {},
    }, status=400 if error else 200)


@requires("tickets.view")
@require_GET
def ticket_refunds(request: HttpRequest, number: int) -> HttpResponse:
    return _block(request, get_ticket_for(request, number))


@requires("refunds.request")
@require_POST
def refund_request(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    try:
        refund = refunds.request_refund(actor=request.actor, ticket=ticket, amount=request.POST.get("amount", ""),
                                        reason=request.POST.get("reason", ""))
    except InvalidInput as exc:
        if request.htmx:
            return _block(request, ticket, error=exc.message, form=request.POST)
        raise
    message = _("Demande de remboursement de %(amount)s EUR envoyée pour validation.") % {"amount": refund.amount}
    if request.htmx:
        messages.success(request, message)
        return _block(request, ticket)
    messages.success(request, message)
    return redirect("tickets:detail", number=number)
