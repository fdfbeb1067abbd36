"""What the visitors' browsers call: ``/widget.js``, its configuration, the widget's frame and its API.

Origins:
- ``/widget.js`` asks ``config`` with a CORS request; the browser sets ``Origin`` to the page's origin.
  Outside the allowed domains the answer is a 403 whose message the script prints with
  ``console.error("LumioDesk: …")`` — and no frame is created.
- The frame page answers with ``Content-Security-Policy: frame-ancestors <allowed origins>``: a page
  elsewhere cannot show it, whatever its ``origin`` parameter says.
- The API is called by the frame (same origin as LumioDesk); it names the page it is embedded in
  (``X-Widget-Origin``, from ``location.ancestorOrigins`` where the browser has it), which must be
  allowed; a cross-origin ``Origin`` header must be allowed too.
No cookie is used (a third-party frame often gets none): the visitor holds a token, kept in the frame's
storage, and sends it in ``X-Widget-Token``; only its hash is stored. So no CSRF either.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from kb.assistant import suggest_articles
from lumiodesk.access import public
from lumiodesk.exceptions import DomainError
from lumiodesk.ratelimit import client_ip, hit, hit_all

from ..models import MessageKind
from . import domains, selectors, services
from .availability import availability, local_datetime_text
from .models import ChatConversation, ChatWidget, ConversationMode

# Rate limits on starting conversations (a visitor id is the frame's random id; the IP covers a
# visitor who clears it), and on messages in one conversation.
CREATE_PER_VISITOR = (5, 3600)
CREATE_PER_IP = (20, 3600)
MESSAGES_PER_CONVERSATION = (30, 60)

WIDGET_JS = Path(settings.BASE_DIR) / "static" / "chat" / "widget.js"


@cache
def _widget_js() -> tuple[bytes, str]:
    body = WIDGET_JS.read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:16]


@public
@require_safe
def widget_js(request: HttpRequest) -> HttpResponse:
    """The install script: small, the same for every organization (the workspace is in its tag)."""
    body, etag = _widget_js() if not settings.DEBUG else (WIDGET_JS.read_bytes(), "")
    if etag and request.headers.get("If-None-Match") == f'"{etag}"':
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    if etag:
        response["ETag"] = f'"{etag}"'
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _json(data: dict, status: int = 200, *, origin: str = "") -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


def _widget(workspace: str) -> ChatWidget:
    widget = selectors.widget_by_workspace(workspace)
    if widget is None:
        raise Http404("workspace")
    translation.activate(widget.organization.language)
    return widget


def _refusal(origin: str) -> str:
    return _(
        "l'origine %(origin)s n'est pas autorisée pour ce widget. Un Admin peut l'ajouter dans "
        "Paramètres > Canaux > Chat, « Domaines autorisés » (par exemple %(host)s)."
    ) % {"origin": origin or "(inconnue)", "host": urlsplit(origin).netloc or "exemple.fr"}


@public
@require_GET
def config(request: HttpRequest, workspace: str) -> JsonResponse:
    """Asked by /widget.js from the customer's page (CORS): may the widget run on this origin?"""
    origin = request.headers.get("Origin", "")
    widget = selectors.widget_by_workspace(workspace)
    if widget is None:
        return _json({"error": _("espace de travail inconnu « %(w)s ». Copiez à nouveau le code d'installation "
                                 "depuis Paramètres > Canaux > Chat.") % {"w": workspace[:40]}}, 404, origin="*")
    translation.activate(widget.organization.language)
    if not domains.origin_allowed(origin, widget.allowed_domains):
        return _json({"error": _refusal(origin), "origin": origin}, 403, origin=origin or "*")
    if not widget.is_enabled:
        return _json({"error": _("le widget chat est désactivé (Paramètres > Canaux > Chat).")}, 403, origin=origin)
    branding = services.branding_of(widget, widget.organization)
    frame_url = request.build_absolute_uri(reverse("chat_public:frame", args=[widget.workspace_id]))
    return _json({
        "frame_url": f"{frame_url}?{urlencode({'origin': origin})}",
        "title": _("Chat avec %(name)s") % {"name": widget.organization.name},
        "color": branding.color,
    }, origin=origin)


def _texts() -> dict[str, str]:
    """The frame's strings, translated here (the frame script holds none)."""
    return {
        "open": _("Ouvrir le chat"),
        "close": _("Fermer le chat"),
        "suggestions": _("Ces articles répondent peut-être à votre question :"),
        "sending": _("Envoi…"),
        "network": _("Connexion impossible. Votre message est conservé : réessayez dans un instant."),
        "you": _("Vous"),
        "team": _("Équipe support"),
        "new_conversation": _("Nouvelle conversation"),
        "unread": _("Nouveau message"),
    }


@public
@xframe_options_exempt
@require_safe
def frame(request: HttpRequest, workspace: str) -> HttpResponse:
    """The widget itself, shown in an iframe of the customer's page."""
    widget = _widget(workspace)
    org = widget.organization
    parent = request.GET.get("origin", "")
    if not widget.is_enabled or not domains.origin_allowed(parent, widget.allowed_domains):
        response = HttpResponse(_refusal(parent), status=403, content_type="text/plain; charset=utf-8")
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response
    now = timezone.now()
    state = availability(org, now)
    logo = ""
    if widget.logo:
        logo = reverse("chat_public:logo", args=[widget.workspace_id]) + f"?v={int(widget.updated_at.timestamp())}"
    branding = services.branding_of(widget, org, uploaded_logo_url=logo)
    api = reverse("chat_public:api_root", args=[widget.workspace_id])
    context = {
        "org": org,
        "branding": branding,
        "live": state.live,
        "status_text": _status_text(org, state),
        "settings": {
            "api": api,
            "workspace": widget.workspace_id,
            "origin": parent,
            "live": state.live,
            "texts": _texts(),
        },
    }
    response = render(request, "chat/frame.html", context)
    response["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        f"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors "
        f"{domains.frame_ancestors(widget.allowed_domains)}"
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _status_text(org, state) -> str:
    if state.live:
        return _("En ligne · nous répondons en quelques minutes")
    if not state.open_now and state.next_open:
        return _("Hors ligne · de retour le %(d)s") % {"d": local_datetime_text(org, state.next_open)}
    return _("Hors ligne · laissez-nous un message")


@public
@require_GET
def logo(request: HttpRequest, workspace: str) -> FileResponse:
    widget = _widget(workspace)
    if not widget.logo:
        raise Http404("logo")
    response = FileResponse(widget.logo.open("rb"), content_type=widget.logo_content_type or "image/png")
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- the frame's API ---------------------------------------------------------------------------------


def _own_origin(request: HttpRequest, origin: str) -> bool:
    return urlsplit(origin).netloc == request.get_host()


def _api_widget(request: HttpRequest, workspace: str) -> tuple[ChatWidget | None, JsonResponse | None]:
    """The widget, if the frame calling names an allowed parent page (and any cross-origin Origin is allowed)."""
    widget = selectors.widget_by_workspace(workspace)
    if widget is None:
        return None, _json({"error": "unknown workspace"}, 404)
    translation.activate(widget.organization.language)
    parent = request.headers.get("X-Widget-Origin", "")
    origin = request.headers.get("Origin", "")
    if origin and not _own_origin(request, origin) and not domains.origin_allowed(origin, widget.allowed_domains):
        return None, _json({"error": _refusal(origin)}, 403)
    if not domains.origin_allowed(parent, widget.allowed_domains):
        return None, _json({"error": _refusal(parent)}, 403)
    if not widget.is_enabled:
        return None, _json({"error": _("Le chat n'est pas disponible pour le moment.")}, 403)
    return widget, None


def _payload(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(exc: DomainError) -> JsonResponse:
    return _json({"error": exc.message}, exc.status_code)


def _too_many(result) -> JsonResponse:
    minutes = max(1, round(result.retry_after / 60))
    response = _json({"error": _(
        "Trop de demandes envoyées depuis votre connexion. Réessayez dans %(n)s min, ou écrivez-nous par email."
    ) % {"n": minutes}, "retry_after": result.retry_after}, 429)
    response["Retry-After"] = str(result.retry_after)
    return response


def _notice(conversation: ChatConversation) -> str:
    """What the visitor should expect, until the team answers."""
    ticket = conversation.ticket
    org = ticket.organization
    if ticket.status in selectors.DONE:
        return _("Cette conversation est terminée. Écrivez ici pour la rouvrir.")
    if ticket.first_response_at is not None:
        return ""
    if conversation.mode == ConversationMode.LIVE:
        return _("Un membre de l'équipe va vous répondre ici dans quelques instants.")
    if ticket.first_response_due_at:
        return _("Merci ! Nous sommes hors ligne : nous vous répondrons par email au plus tard le %(d)s. "
                 "La réponse s'affichera aussi ici.") % {"d": local_datetime_text(org, ticket.first_response_due_at)}
    return _("Merci ! Nous sommes hors ligne : nous vous répondrons par email dès que possible.")


def _messages(conversation: ChatConversation, after: int) -> list[dict]:
    import zoneinfo

    tz = zoneinfo.ZoneInfo(conversation.ticket.organization.time_zone)
    team = _("Équipe support")
    out = []
    for m in selectors.visitor_messages(conversation, after=after):
        visitor = m.kind == MessageKind.CUSTOMER
        author = "" if visitor else (m.author_user.first_name or team) if m.author_user else team
        out.append({
            "id": m.pk, "from": "visitor" if visitor else "agent", "author": author, "text": m.body_text,
            "at": m.created_at.isoformat(), "time": m.created_at.astimezone(tz).strftime("%H:%M"),
        })
    return out


def _conversation_json(conversation: ChatConversation, after: int = 0) -> dict:
    ticket = conversation.ticket
    return {
        "conversation": {
            "ticket": ticket.number,
            "mode": conversation.mode,
            "done": ticket.status in selectors.DONE,
            "notice": _notice(conversation),
        },
        "messages": _messages(conversation, after),
    }


def _conversation(request: HttpRequest, widget: ChatWidget) -> ChatConversation | None:
    token = request.headers.get("X-Widget-Token", "")
    return selectors.conversation_for(widget, services.visitor_key(token)) if token else None


@public
@require_GET
def api_status(request: HttpRequest, workspace: str) -> JsonResponse:
    widget, refused = _api_widget(request, workspace)
    if refused:
        return refused
    state = availability(widget.organization)
    return _json({"live": state.live, "status_text": _status_text(widget.organization, state)})


@public
@require_GET
def api_suggest(request: HttpRequest, workspace: str) -> JsonResponse:
    """Published articles of public collections for what the visitor is typing: the assistant's retrieval
    (kb.assistant.suggest_articles), as in the help center."""
    widget, refused = _api_widget(request, workspace)
    if refused:
        return refused
    q = " ".join((request.GET.get("q") or "").split())[:120]
    org = widget.organization
    rows = suggest_articles(org, q, limit=5) if len(q) >= 3 else []
    return _json({"articles": [
        {"title": r.title,
         "url": request.build_absolute_uri(reverse("kb_public:article", args=[org.slug, r.slug]))}
        for r in rows
    ]})


@public
@csrf_exempt  # no cookie is used: the visitor's token is the credential (see the module docstring)
@require_http_methods(["POST"])
def api_start(request: HttpRequest, workspace: str) -> JsonResponse:
    widget, refused = _api_widget(request, workspace)
    if refused:
        return refused
    data = _payload(request)
    visitor = str(data.get("visitor") or "")[:64]
    limits = [("chat:start:ip", client_ip(request), *CREATE_PER_IP)]
    if visitor:
        limits.insert(0, ("chat:start:visitor", f"{widget.pk}:{visitor}", *CREATE_PER_VISITOR))
    result = hit_all(*limits)
    if not result.allowed:
        return _too_many(result)
    try:
        started = services.start_conversation(
            widget=widget, name=str(data.get("name") or ""), email=str(data.get("email") or ""),
            message=str(data.get("message") or ""), origin=request.headers.get("X-Widget-Origin", ""),
        )
    except DomainError as exc:
        return _error(exc)
    conversation = started.conversation
    conversation.ticket.refresh_from_db(fields=["first_response_due_at", "status", "first_response_at"])
    return _json({"token": started.token, **_conversation_json(conversation)}, 201)


@public
@csrf_exempt  # see api_start
@require_http_methods(["GET", "POST"])
def api_conversation(request: HttpRequest, workspace: str) -> JsonResponse:
    """GET ``?after=<message id>``: the visitor's poll (two queries). POST ``{"body": …}``: a message."""
    widget, refused = _api_widget(request, workspace)
    if refused:
        return refused
    conversation = _conversation(request, widget)
    if conversation is None:
        return _json({"error": _("Conversation introuvable."), "gone": True}, 404)
    if request.method == "GET":
        after = request.GET.get("after", "0")
        return _json(_conversation_json(conversation, int(after) if after.isdigit() else 0))
    result = hit("chat:message", str(conversation.pk), limit=MESSAGES_PER_CONVERSATION[0],
                 window=MESSAGES_PER_CONVERSATION[1])
    if not result.allowed:
        return _too_many(result)
    after = _payload(request).get("after", 0)
    try:
        services.post_visitor_message(conversation=conversation, body=str(_payload(request).get("body") or ""))
    except DomainError as exc:
        return _error(exc)
    conversation.ticket.refresh_from_db(fields=["status", "first_response_at", "first_response_due_at"])
    return _json(_conversation_json(conversation, after if isinstance(after, int) else 0), 201)
