"""Settings > Automations and Settings > Webhooks (Admins and Managers), and the ticket's automation journal.

Views parse, authorize (``automations.access``), call a service, render. An HTMX request gets the part of
the page that changed (and the flash messages out of band); a plain request is redirected, so every
button works without JavaScript (drag and drop has the up/down buttons as keyboard alternative).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.catalogue import Feature
from billing.services import has_feature, require_feature
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError, InvalidInput
from lumiodesk.models import Organization
from tickets.access import get_ticket_for

from . import selectors, services, webhooks
from .access import get_endpoint_for, get_rule_for
from .forms import EndpointForm, RuleEditor
from .models import DeliveryStatus, WebhookEvent
from .rules import CUSTOMER_BUILTIN_KEYS

# --- rules -------------------------------------------------------------------------------------------------


def _rules_context(organization: Organization) -> dict:
    return {"page": selectors.rules_page(organization), "organization": organization}


def _rules_response(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    """After a POST: the rule list and the flash messages (HTMX), or back to the page."""
    if not request.htmx:
        return redirect("automations:rules")
    html = render_to_string("automations/rules.html#rule-list", _rules_context(request.organization), request=request)
    html += render_to_string("partials/flash.html", {"oob": True}, request=request)
    return HttpResponse(html, status=status)


def _rules_refused(request: HttpRequest, exc: DomainError, **_kw) -> HttpResponse:
    """A refused change: the rule list with the message (HTMX), or back to the page."""
    return _rules_response(request, status=exc.status_code)


@requires("rules.manage")
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    return render(request, "automations/rules.html", _rules_context(request.organization))


@requires("rules.manage")
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    org = request.organization
    rule = get_rule_for(request, pk) if pk else None
    url = reverse("automations:rule_edit", args=[pk]) if pk else reverse("automations:rule_create")
    choices = selectors.form_choices(org)
    refs = services.references(org)
    editor = RuleEditor(choices=choices, refs=refs, rule=rule, data=request.POST if request.method == "POST" else None,
                        url=url)
    status = 200
    if request.method == "POST" and editor.wants_save:
        if editor.is_valid():
            data = editor.cleaned()
            try:
                if rule is None:
                    rule = services.create_rule(organization=org, actor=request.actor, **data)
                    messages.success(request, _("Règle « %(name)s » créée.") % {"name": rule.name})
                else:
                    rule = services.update_rule(rule=rule, actor=request.actor, **data)
                    messages.success(request, _("Règle « %(name)s » enregistrée.") % {"name": rule.name})
            except DomainError as exc:
                editor.form.add_error(None, exc.message)
                status = exc.status_code
            else:
                return redirect("automations:rules")
        else:
            status = 400
    context = {
        "editor": editor, "rule": rule, "url": url, "customer_keys": ["plan", *CUSTOMER_BUILTIN_KEYS],
        "webhooks_allowed": choices.webhooks_allowed, "has_articles": bool(choices.articles),
    }
    if request.htmx and request.method == "POST" and not editor.wants_save:
        return render(request, "automations/rule_form.html#rule-form", context)
    return render(request, "automations/rule_form.html", context, status=status)


@requires("rules.manage", on_refusal=_rules_refused)
@require_POST
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_rule_for(request, pk)
    active = request.POST.get("active") == "1"
    rule = services.set_rule_active(rule=rule, actor=request.actor, active=active)
    if rule.is_active:
        messages.success(request, _("Règle « %(name)s » activée.") % {"name": rule.name})
    else:
        messages.success(request, _("Règle « %(name)s » désactivée.") % {"name": rule.name})
    return _rules_response(request)


@requires("rules.manage", on_refusal=_rules_refused)
@require_POST
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_rule_for(request, pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    services.move_rule(rule=rule, actor=request.actor, offset=offset)
    return _rules_response(request)


@requires("rules.manage", on_refusal=_rules_refused)
@require_POST
def rule_reorder(request: HttpRequest) -> HttpResponse:
    """Drag and drop: the ids of every rule in their new order."""
    raw = request.POST.getlist("order")
    if len(raw) == 1 and "," in raw[0]:
        raw = raw[0].split(",")
    try:
        ids = [int(x) for x in raw]
    except ValueError:
        raise InvalidInput(_("Ordre invalide.")) from None
    services.reorder_rules(organization=request.organization, actor=request.actor, ordered_ids=ids)
    messages.success(request, _("Ordre des règles enregistré."))
    return _rules_response(request)


@requires("rules.manage", on_refusal=_rules_refused)
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_rule_for(request, pk)
    services.delete_rule(rule=rule, actor=request.actor)
    messages.success(request, _("Règle « %(name)s » supprimée.") % {"name": rule.name})
    return _rules_response(request)


@requires("rules.manage", on_refusal=_rules_refused)
@require_POST
def rule_examples(request: HttpRequest) -> HttpResponse:
    """Add the four examples of the documentation (section 7), as active rules, within the plan's limit."""
    created = services.install_section7_examples(organization=request.organization, actor=request.actor)
    messages.success(request, _("%(n)s règle(s) d'exemple ajoutée(s).") % {"n": len(created)})
    return _rules_response(request)


# --- the ticket's journal ---------------------------------------------------------------------------------


@requires("tickets.view")
@require_GET
def ticket_journal(request: HttpRequest, number: int) -> HttpResponse:
    """The "Automatisations" block of the ticket page (loaded by HTMX), or a page of its own."""
    ticket = get_ticket_for(request, number)
    context = {"ticket": ticket, "runs": selectors.journal(ticket)}
    if request.htmx:
        return render(request, "automations/partials/ticket_journal.html", context)
    return render(request, "automations/ticket_journal.html", context)


# --- webhooks ------------------------------------------------------------------------------------------------


def _webhooks_context(org: Organization, form: EndpointForm | None = None) -> dict:
    allowed = has_feature(org, Feature.WEBHOOKS)
    return {
        "organization": org,
        "allowed": allowed,
        "feature_error": None if allowed else _feature_error(org),
        "endpoints": selectors.endpoints_of(org),
        "form": form or EndpointForm(initial={"events": list(WebhookEvent.values)}),
        **_doc_context(),
    }


def _feature_error(org) -> str:
    try:
        require_feature(org, Feature.WEBHOOKS)
    except DomainError as exc:
        return exc.message
    return ""


def _doc_context() -> dict:
    return {
        "headers": {
            "signature": webhooks.SIGNATURE_HEADER, "timestamp": webhooks.TIMESTAMP_HEADER,
            "event": webhooks.EVENT_HEADER, "delivery": webhooks.DELIVERY_HEADER,
        },
        "verify_snippet": webhooks.VERIFY_SNIPPET,
        "retry_delays": webhooks.RETRY_DELAYS,
        "timeout": webhooks.TIMEOUT_SECONDS,
        "events": WebhookEvent.choices,
        "example_payload": _EXAMPLE_PAYLOAD,
    }


_EXAMPLE_PAYLOAD = """{
  "id": "6f1c2d3e-8a9b-4c5d-9e0f-123456789abc",
  "event": "ticket.created",
  "occurred_at": "2026-11-02T09:14:03.512000+00:00",
  "organization": {"id": 1, "slug": "demo"},
  "data": {"ticket": {
    "id": 812, "number": 412, "subject": "Facture en double", "status": "new", "priority": "normal",
    "channel": "email", "tags": ["facturation"], "created_at": "…", "updated_at": "…",
    "url": "https://…/tickets/412/",
    "customer": {"id": 77, "email": "claire@example.com", "name": "Claire Dupont", "company": null},
    "assignee": null
  }}
}"""


@requires("webhooks.manage")
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST) if request.method == "POST" else None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                endpoint, _secret = services.create_endpoint(
                    organization=request.organization, actor=request.actor, url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"], description=form.cleaned_data["description"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, _("Endpoint ajouté. Copiez son secret pour vérifier les signatures."))
                return redirect("automations:webhook_detail", pk=endpoint.pk)
        else:
            status = 400
    return render(request, "automations/webhooks.html", _webhooks_context(request.organization, form), status=status)


def _detail_context(endpoint, form: EndpointForm | None = None) -> dict:
    deliveries = selectors.deliveries_of(endpoint)
    return {
        "endpoint": endpoint,
        "form": form or EndpointForm(initial={"url": endpoint.url, "description": endpoint.description,
                                              "events": endpoint.events}),
        "deliveries": deliveries,
        "polling": any(d.status == DeliveryStatus.PENDING for d in deliveries),
        "secret": services.secret_of(endpoint),
        "allowed": has_feature(endpoint.organization, Feature.WEBHOOKS),
        **_doc_context(),
    }


@requires("webhooks.manage")
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The endpoint: its settings, its secret, the test button and the delivery log."""
    endpoint = get_endpoint_for(request, pk)
    form = None
    status = 200
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                services.update_endpoint(endpoint=endpoint, actor=request.actor, url=form.cleaned_data["url"],
                                         events=form.cleaned_data["events"],
                                         description=form.cleaned_data["description"])
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, _("Endpoint enregistré."))
                return redirect("automations:webhook_detail", pk=endpoint.pk)
        else:
            status = 400
    return render(request, "automations/webhook_detail.html", _detail_context(endpoint, form), status=status)


@requires("webhooks.manage")
@require_GET
def webhook_deliveries(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery log alone (HTMX polls it while a delivery is pending)."""
    endpoint = get_endpoint_for(request, pk)
    if not request.htmx:
        return redirect(f"{reverse('automations:webhook_detail', args=[pk])}#deliveries")
    return render(request, "automations/webhook_detail.html#delivery-log", _detail_context(endpoint))


def _endpoint_response(request: HttpRequest, endpoint, *, status: int = 200) -> HttpResponse:
    if not request.htmx:
        return redirect("automations:webhook_detail", pk=endpoint.pk)
    endpoint.refresh_from_db()
    context = {**_detail_context(endpoint), "oob": True}
    html = render_to_string("automations/webhook_detail.html#endpoint-state", context, request=request)
    html += render_to_string("automations/webhook_detail.html#delivery-log", context, request=request)
    html += render_to_string("partials/flash.html", {"oob": True}, request=request)
    return HttpResponse(html, status=status)


def _endpoint_refused(request: HttpRequest, exc: DomainError, *, pk: int) -> HttpResponse:
    return _endpoint_response(request, get_endpoint_for(request, pk), status=exc.status_code)


@requires("webhooks.manage", on_refusal=_endpoint_refused)
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_endpoint_for(request, pk)
    delivery = services.send_test_event(endpoint=endpoint, actor=request.actor)
    messages.success(request, _("Événement de test %(id)s envoyé : son résultat s'affiche dans le journal.")
                     % {"id": str(delivery.uuid)[:8]})
    return _endpoint_response(request, endpoint)


@requires("webhooks.manage", on_refusal=_endpoint_refused)
@require_POST
def webhook_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_endpoint_for(request, pk)
    active = request.POST.get("active") == "1"
    services.set_endpoint_active(endpoint=endpoint, actor=request.actor, active=active)
    messages.success(request, _("Endpoint réactivé.") if active else _("Endpoint désactivé."))
    return _endpoint_response(request, endpoint)


@requires("webhooks.manage")
@require_POST
def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_endpoint_for(request, pk)
    services.rotate_secret(endpoint=endpoint, actor=request.actor)
    messages.success(request, _("Nouveau secret généré : mettez à jour le serveur qui reçoit les webhooks."))
    return redirect("automations:webhook_detail", pk=endpoint.pk)


@requires("webhooks.manage")
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_endpoint_for(request, pk)
    services.delete_endpoint(endpoint=endpoint, actor=request.actor)
    messages.success(request, _("Endpoint supprimé."))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("automations:webhooks")
        return response
    return redirect("automations:webhooks")
