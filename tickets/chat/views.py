"""Console side of the chat: Settings > Channels > Chat (Admins), the chat inbox, and the polls that keep
the inbox, the top bar badge and a chat ticket's page up to date (every poll also tells ``presence``
that an agent is here)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from billing.catalogue import PLANS, Feature
from billing.services import has_feature
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError

from .. import selectors as ticket_selectors
from ..access import get_ticket_for
from ..models import Channel, Ticket
from . import presence, selectors, services
from .availability import availability, local_datetime_text
from .forms import BrandingForm, WidgetForm

INBOX_POLL_SECONDS = 5
TICKET_POLL_SECONDS = 2


def _settings_page(request: HttpRequest, **_kw) -> str:
    return reverse("chat:settings")


def _beat(request: HttpRequest) -> None:
    if request.actor.can("chat.answer"):
        presence.beat(request.organization.pk, request.user.pk)


def branding_plan_names() -> str:
    """"Business et Scale": the plans whose catalogue includes widget branding."""
    names = [p.name for p in PLANS.values() if Feature.WIDGET_BRANDING in p.features]
    return _(" et ").join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def _snippet(request: HttpRequest, workspace_id: str) -> str:
    src = request.build_absolute_uri(reverse("widget_js"))
    return f'<script src="{src}" data-workspace="{workspace_id}"></script>'


@requires("chat.manage", back=_settings_page)
@require_http_methods(["GET", "POST"])
def widget_settings(request: HttpRequest) -> HttpResponse:
    org = request.organization
    widget = selectors.widget_of(org)
    can_brand = has_feature(org, Feature.WIDGET_BRANDING)
    status = 200
    if request.method == "POST" and widget is None:
        services.create_widget(organization=org, actor=request.actor)
        messages.success(request, _("Widget chat créé. Indiquez les domaines de votre site, puis copiez le code "
                                    "d'installation."))
        return redirect("chat:settings")
    form = branding_form = None
    if widget is not None:
        initial = {"is_enabled": widget.is_enabled, "allowed_domains": "\n".join(widget.allowed_domains)}
        form = WidgetForm(request.POST or None, initial=initial)
        if can_brand:
            branding_form = BrandingForm(
                request.POST or None, request.FILES or None,
                initial={"color": widget.color or services.DEFAULT_COLOR, "welcome_message": widget.welcome_message,
                         "logo_url": widget.logo_url},
            )
        if request.method == "POST":
            valid = form.is_valid() and (branding_form is None or branding_form.is_valid())
            if valid:
                brand = branding_form.cleaned_data if branding_form is not None else {}
                try:
                    services.update_widget(
                        widget=widget, actor=request.actor, is_enabled=form.cleaned_data["is_enabled"],
                        allowed_domains=form.domain_lines(),
                        color=brand.get("color") if branding_form is not None else None,
                        logo_url=brand.get("logo_url") if branding_form is not None else None,
                        welcome_message=brand.get("welcome_message") if branding_form is not None else None,
                        logo=brand.get("logo"), remove_logo=bool(brand.get("remove_logo")),
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                else:
                    messages.success(request, _("Réglages du widget enregistrés."))
                    return redirect("chat:settings")
            status = 400
    state = availability(org)
    logo_url = ""
    if widget is not None and widget.logo:
        logo_url = reverse("chat_public:logo", args=[widget.workspace_id]) + f"?v={int(widget.updated_at.timestamp())}"
    return render(request, "chat/settings.html", {
        "widget": widget,
        "form": form,
        "branding_form": branding_form,
        "can_brand": can_brand,
        "branding": services.branding_of(widget, org, uploaded_logo_url=logo_url) if widget else None,
        "plan_name": org.get_plan_display(),
        "branding_plans": branding_plan_names(),
        "snippet": _snippet(request, widget.workspace_id) if widget else "",
        "state": state,
        "next_open": local_datetime_text(org, state.next_open) if state.next_open else "",
    }, status=status)


def _inbox_context(request: HttpRequest) -> dict:
    org = request.organization
    waiting, ongoing = selectors.inbox(org)
    state = availability(org)
    return {
        "waiting": waiting,
        "ongoing": ongoing,
        "state": state,
        "next_open": local_datetime_text(org, state.next_open) if state.next_open else "",
        "poll_seconds": INBOX_POLL_SECONDS,
        "has_widget": selectors.widget_of(org) is not None,
    }


@requires("tickets.view")
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """Chats waiting for an answer (oldest first), then the other ongoing chats; refreshed every 5 s."""
    _beat(request)
    context = _inbox_context(request)
    if request.htmx and request.htmx.target == "chat-inbox":
        return render(request, "chat/inbox.html#inbox", context)
    return render(request, "chat/inbox.html", context)


@requires("tickets.view")
@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    """The top bar's "Chat (n)" link: polled by every console page (the agents' presence heartbeat)."""
    _beat(request)
    return render(request, "chat/partials/badge.html", {
        "waiting_count": selectors.waiting_count(request.organization),
        "active": request.GET.get("active") == "1",
    })


def live_context(ticket: Ticket, timeline) -> dict | None:
    """The ticket page's live poll (chat tickets only; no query: the newest id comes from the timeline)."""
    if ticket.channel != Channel.CHAT:
        return None
    ids = [entry.message.pk for entry in timeline if entry.message is not None]
    return {"last_id": max(ids, default=0), "poll_seconds": TICKET_POLL_SECONDS}


@requires("tickets.view")
@require_GET
def ticket_live(request: HttpRequest, number: int) -> HttpResponse:
    """A chat ticket's page asks every 2 s: 204 when nothing is new, else the timeline (out of band)."""
    ticket = get_ticket_for(request, number)
    _beat(request)
    after = request.GET.get("after", "0")
    newest = selectors.has_messages_after(ticket, int(after) if after.isdigit() else 0)
    if newest is None:
        return HttpResponse(status=204)
    page = ticket_selectors.ticket_page(ticket)
    context = {"ticket": ticket, "timeline": page["timeline"], "oob": True,
               "chat_live": live_context(ticket, page["timeline"])}
    html = render_to_string("tickets/detail.html#timeline", context, request=request)
    html += render_to_string("chat/partials/ticket_live.html", context, request=request)
    return HttpResponse(html)
