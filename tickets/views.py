"""The agent console. Views parse, authorize (tickets.access), call a service, render."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.models import Customer
from kb import selectors as kb_selectors
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError, InvalidInput
from lumiodesk.teams import teams_of

from . import console_slots, selectors, services
from .access import get_attachment_for, get_template_for, get_ticket_for, get_view_for
from .attachments import INLINE_TYPES
from .chat.views import live_context as chat_live_context
from .forms import (
    AssignForm,
    PriorityForm,
    ReplyForm,
    ReplyTemplateForm,
    SavedViewForm,
    StatusForm,
    TagsForm,
    TicketCreateForm,
)
from .models import Attachment, Channel, MessageKind, Priority, Status, Ticket
from .replies import HELP as TEMPLATE_HELP
from .replies import render_reply_template

User = get_user_model()

STATUS_BUTTONS = (Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL, Status.RESOLVED, Status.CLOSED)


class KnownCountPaginator(Paginator):
    """Uses a count we already have (the status counters) instead of a COUNT(*) query."""

    def __init__(self, object_list, per_page, *, known_count: int | None = None):
        super().__init__(object_list, per_page)
        if known_count is not None:
            self.__dict__["count"] = known_count


def _ticket_page(request: HttpRequest, number: int, **_kw) -> str:
    """Where a refused action on a ticket goes back to without HTMX (with HTMX: the flash area)."""
    return reverse("tickets:detail", args=[number])


def _list_page(request: HttpRequest, **_kw) -> str:
    filters = selectors.TicketFilters.from_params(request.POST).as_dict()
    return f"{reverse('tickets:list')}?{urlencode(filters)}"


# --- list ----------------------------------------------------------------------------------------------


@requires("tickets.view")
@require_GET
def ticket_list(request: HttpRequest) -> HttpResponse:
    org = request.organization
    filters = selectors.TicketFilters.from_params(request.GET)
    counts = selectors.counters(org)
    qs = selectors.ticket_list(org, filters, user=request.user)
    known = selectors.count_for(filters, counts)
    capped = False
    if known is None:
        # Counting every match of a broad search costs more than the page itself: count up to the cap.
        known = selectors.count_matches(org, filters, user=request.user, cap=selectors.COUNT_CAP)
        capped = known > selectors.COUNT_CAP
    paginator = KnownCountPaginator(qs, 25, known_count=known)
    page = paginator.get_page(request.GET.get("page"))
    query = filters.as_dict()
    tickets = list(page.object_list)
    # The SLA column: time left (or overdue) in business time, from the sla app (one query).
    statuses = console_slots.sla_column(org, tickets, timezone.now())
    # Choice labels translated once per page, not three times per row (get_FOO_display hashes the
    # lazy choices and translates them on every call: ~10 ms for 25 rows).
    status_labels, priority_labels, channel_labels = (
        {code: str(label) for code, label in choices} for choices in (Status.choices, Priority.choices, Channel.choices)
    )
    for t in tickets:
        t.sla_status = statuses.get(t.pk)
        t.status_label, t.priority_label = status_labels[t.status], priority_labels[t.priority]
        t.channel_label = channel_labels.get(t.channel, t.channel)
    context = {
        "filters": filters,
        "counts": counts,
        "page": page,
        "count_capped": capped,
        "count_cap": selectors.COUNT_CAP,
        "tickets": tickets,
        "query": urlencode(query),
        "has_filters": bool({k for k in query if k != "sort"}),
        "statuses": list(status_labels.items()),
        "priorities": list(priority_labels.items()),
        "team": selectors.team(org),
        "teams": SimpleLazyObject(lambda: teams_of(org)),  # only the full page draws the filter
        "tags": selectors.tags_of(org),
        "views": selectors.saved_views(org),
        "view_form": SavedViewForm(),
        "sorts": [("-created", _("Plus récents")), ("created", _("Plus anciens")),
                  ("-updated", _("Dernière activité")), ("priority", _("Priorité")), ("due", _("Échéance SLA"))],
        "sla_filters": [("overdue", _("SLA dépassé")), ("due_soon", _("SLA bientôt dépassé"))],
        "today": selectors.local_today(org).isoformat(),
        # The dashboard's drill-down filters, kept when the form changes another one.
        "hidden_filters": [(k, getattr(filters, k)) for k in selectors.DRILL_DOWN_FILTERS if getattr(filters, k)],
    }
    for error in filters.errors:
        messages.warning(request, _("Filtre inconnu ignoré : %(v)s") % {"v": error})
    if request.htmx and request.htmx.target == "ticket-list":
        html = render_to_string("tickets/list.html#ticket-list", context, request=request)
        html += render_to_string("partials/flash.html", {"oob": True}, request=request)
        return HttpResponse(html)
    return render(request, "tickets/list.html", context)


@requires("tickets.create")
@require_http_methods(["GET", "POST"])
def ticket_create(request: HttpRequest) -> HttpResponse:
    org = request.organization
    team = selectors.team(org)
    initial = {}
    customer_id = request.GET.get("customer", "")
    if customer_id.isdigit():  # "Nouveau ticket" from a customer record: the form prefilled for them
        customer = get_object_or_404(Customer, organization=org, pk=int(customer_id))
        initial = {"customer_email": customer.email, "customer_name": customer.full_name}
    form = TicketCreateForm(request.POST or None, request.FILES or None, team=team, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        assignee = next((u for u in team if u.pk == data["assignee"]), None)
        try:
            ticket = services.create_ticket_for_contact(
                organization=org, email=data["customer_email"], name=data["customer_name"],
                subject=data["subject"], body=data["body"],
                priority=data["priority"], actor=request.actor, assignee=assignee,
                tags=[t for t in data["tags"].split(",") if t.strip()], attachments=data["attachments"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Ticket #%(n)s créé.") % {"n": ticket.number})
            return redirect("tickets:detail", number=ticket.number)
    status = 400 if request.method == "POST" else 200
    return render(request, "tickets/create.html", {"form": form}, status=status)


# --- ticket page ---------------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, ticket: Ticket, *, reply_form: ReplyForm | None = None) -> dict:
    org = request.organization
    can_status = request.can.tickets_change_status
    allowed = services.TRANSITIONS[ticket.status]
    context = {
        "ticket": ticket,
        # A spam is reopened by "Ce n'est pas un spam" (which also unblocks the sender), not by the status buttons.
        "status_buttons": [(s, Status(s).label) for s in STATUS_BUTTONS if s in allowed]
        if can_status and ticket.spam_at is None else [],
        "can_mark_spam": request.can.tickets_mark_spam,
        "priorities": Priority.choices,
        "team": selectors.team(org),
        "templates": selectors.reply_templates(org) if request.can.tickets_reply else [],
        "reply_form": reply_form or ReplyForm(),
        "all_statuses": Status.choices,
        **selectors.ticket_page(ticket),
        "kb_suggestions": kb_selectors.suggestions_for_ticket(ticket),
        "sla": console_slots.sla_panel(ticket, timezone.now()),  # due times and time left, from sla (one query)
    }
    context["chat_live"] = chat_live_context(ticket, context["timeline"])  # chat tickets: live poll, no query
    context["tags_value"] = ", ".join(t.name for t in context["ticket_tags"])
    return context


@requires("tickets.view")
@require_GET
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    reply_form = None
    template_id = request.GET.get("template", "")
    if template_id.isdigit() and request.can.tickets_reply:  # a Viewer's page never pre-fills a reply
        template = get_template_for(request, int(template_id))
        body = render_reply_template(template.body, ticket=ticket, agent=request.user)
        reply_form = ReplyForm(initial={"body": body})
    return render(request, "tickets/detail.html", _detail_context(request, ticket, reply_form=reply_form))


@requires("tickets.delete")
@require_http_methods(["GET", "POST"])
def ticket_delete(request: HttpRequest, number: int) -> HttpResponse:
    """The confirmation page (type the ticket's number), then the permanent deletion."""
    ticket = get_ticket_for(request, number)
    error = ""
    if request.method == "POST":
        try:
            services.delete_ticket(actor=request.actor, ticket=ticket,
                                   confirmation=request.POST.get("confirmation", "")[:20])
        except InvalidInput as exc:
            error = exc.message
        else:
            messages.success(request, _("Le ticket n° %(number)s est supprimé définitivement.") % {"number": number})
            return redirect("tickets:list")
    counts = {
        "message_count": ticket.messages.count(),
        "attachment_count": Attachment.objects.filter(message__ticket=ticket).count(),
    }
    return render(request, "tickets/delete.html", {"ticket": ticket, "error": error, **counts},
                  status=400 if error else 200)


def _after_change(request: HttpRequest, number: int, *, full: bool = False) -> HttpResponse:
    """After a POST: re-run the page's GET logic and send back what changed (HTMX), else redirect."""
    if not request.htmx:
        return redirect("tickets:detail", number=number)
    ticket = get_ticket_for(request, number)
    context = _detail_context(request, ticket)
    if full:
        return render(request, "tickets/detail.html#ticket", context)
    context["oob"] = True
    parts = [
        render_to_string("tickets/detail.html#header", context, request=request),
        render_to_string("tickets/detail.html#properties", context, request=request),
        render_to_string("tickets/detail.html#timeline", context, request=request),
        render_to_string("partials/flash.html", {"oob": True}, request=request),
    ]
    return HttpResponse("".join(parts))


@requires("tickets.reply", back=_ticket_page)  # a note: "tickets.note", checked by the service
@require_POST
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        raise InvalidInput(_("Message invalide."))
    data = form.cleaned_data
    services.add_message(
        ticket=ticket, kind=data["kind"], body=data["body"], actor=request.actor,
        attachments=data["attachments"], then_status=data["then_status"] or None,
    )
    if not request.htmx:
        done = _("Note interne ajoutée.") if data["kind"] == MessageKind.NOTE else _("Réponse envoyée.")
        messages.success(request, done)
    return _after_change(request, number, full=True)


@requires("tickets.change_status", back=_ticket_page)
@require_POST
def ticket_status(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    form = StatusForm(request.POST)
    form.is_valid()
    services.change_status(ticket=ticket, status=form.cleaned_data.get("status", ""), actor=request.actor)
    return _after_change(request, number)


@requires("tickets.mark_spam", back=_ticket_page)
@require_POST
def ticket_spam(request: HttpRequest, number: int) -> HttpResponse:
    """002 "Ticket spam": closed without any notification; "block" also quarantines the sender's next mail."""
    ticket = get_ticket_for(request, number)
    block = request.POST.get("block") == "1"
    services.mark_spam(ticket=ticket, actor=request.actor, block_sender=block)
    messages.success(request, _("Marqué comme spam et fermé, sans notification au client.")
                     + (" " + _("Ses prochains emails iront en quarantaine.") if block else ""))
    return _after_change(request, number)


@requires("tickets.mark_spam", back=_ticket_page)
@require_POST
def ticket_unspam(request: HttpRequest, number: int) -> HttpResponse:
    services.unmark_spam(ticket=get_ticket_for(request, number), actor=request.actor)
    messages.success(request, _("Ce ticket n'est plus un spam : rouvert, expéditeur débloqué."))
    return _after_change(request, number)


@requires("tickets.change_priority", back=_ticket_page)
@require_POST
def ticket_priority(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    form = PriorityForm(request.POST)
    form.is_valid()
    services.set_priority(ticket=ticket, priority=form.cleaned_data.get("priority", ""), actor=request.actor)
    return _after_change(request, number)


@requires("tickets.assign", back=_ticket_page)
@require_POST
def ticket_assign(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    form = AssignForm(request.POST)
    form.is_valid()
    raw = form.cleaned_data.get("assignee", "")
    assignee = None
    if raw:
        team = {str(u.pk): u for u in selectors.team(ticket.organization)}
        assignee = team.get(raw)
        if assignee is None:
            raise InvalidInput(_("Cet agent ne fait pas partie de l'équipe."))
    services.assign(ticket=ticket, assignee=assignee, actor=request.actor)
    return _after_change(request, number)


@requires("tickets.tag", back=_ticket_page)
@require_POST
def ticket_tags(request: HttpRequest, number: int) -> HttpResponse:
    ticket = get_ticket_for(request, number)
    form = TagsForm(request.POST)
    form.is_valid()
    services.set_tags(ticket=ticket, names=form.names(), actor=request.actor)
    return _after_change(request, number)


@requires("tickets.reply")
@require_GET
def ticket_template(request: HttpRequest, number: int) -> HttpResponse:
    """HTMX: the reply box filled with a template (placeholders rendered), after what was typed."""
    ticket = get_ticket_for(request, number)
    raw = request.GET.get("template", "")
    current = request.GET.get("body", "")
    if not raw.isdigit():
        body = current
    else:
        template = get_template_for(request, int(raw))
        filled = render_reply_template(template.body, ticket=ticket, agent=request.user)
        body = f"{current.rstrip()}\n\n{filled}" if current.strip() else filled
    if not request.htmx:
        return redirect(f"{reverse('tickets:detail', args=[number])}?template={raw}")
    return render(request, "tickets/detail.html#reply-body", {"body": body})


@requires("tickets.view")
@require_GET
def attachment_download(request: HttpRequest, number: int, token: str) -> FileResponse:
    att = get_attachment_for(request, number, token)
    if att.expired_at is not None:
        return HttpResponse(_("Pièce jointe expirée : elle a été supprimée à la fin de la durée de conservation."),
                            status=410)
    inline = att.content_type in INLINE_TYPES and request.GET.get("download") is None
    response = FileResponse(
        att.file.open("rb"), as_attachment=not inline, filename=att.filename, content_type=att.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- shared views --------------------------------------------------------------------------------------


@requires("views.manage", back=_list_page)
@require_POST
def view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    filters = selectors.TicketFilters.from_params(request.POST).as_dict()
    back = _list_page(request)
    if not form.is_valid():
        raise InvalidInput(_("Donnez un nom à la vue."))
    view = services.save_view(
        organization=request.organization, name=form.cleaned_data["name"], filters=filters, actor=request.actor,
    )
    messages.success(request, _("Vue « %(name)s » enregistrée pour toute l'équipe.") % {"name": view.name})
    response = redirect(back)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
    return response


@requires("views.manage")
@require_POST
def view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_view_for(request, pk)
    services.delete_view(view=view, actor=request.actor)
    messages.success(request, _("Vue supprimée."))
    return redirect("tickets:list")


# --- reply templates -----------------------------------------------------------------------------------


@requires("tickets.view")
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/templates_list.html", {
        "templates": selectors.reply_templates(request.organization),
        "help": TEMPLATE_HELP,
    })


@requires("reply_templates.manage")
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    template = get_template_for(request, pk) if pk else None
    initial = {"name": template.name, "body": template.body} if template else None
    form = ReplyTemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_reply_template(
                organization=request.organization, name=form.cleaned_data["name"],
                body=form.cleaned_data["body"], actor=request.actor, template=template,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Modèle enregistré."))
            return redirect("tickets:templates")
    status = 400 if request.method == "POST" else 200
    return render(request, "tickets/template_form.html", {"form": form, "template": template,
                                                          "help": TEMPLATE_HELP}, status=status)


@requires("reply_templates.manage")
@require_POST
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_template_for(request, pk)
    services.delete_reply_template(template=template, actor=request.actor)
    messages.success(request, _("Modèle supprimé."))
    return redirect("tickets:templates")
