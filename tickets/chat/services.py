"""The chat widget's changes of state: its settings (Admins) and the visitors' conversations.

A conversation goes through ``tickets.services`` (``create_ticket_for_contact``, ``add_message``) like
every channel, so automations, SLA stamps, agent notifications and the plan's quota apply to it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.catalogue import Feature
from billing.services import has_feature
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, SystemActor, require

from .. import services as ticket_services
from ..models import Channel, Message, MessageKind, Ticket
from . import domains
from .availability import availability
from .models import ChatConversation, ChatWidget, ConversationMode

MAX_MESSAGE = 5000
MAX_NAME = 200
MAX_LOGO_BYTES = 512 * 1024
LOGO_TYPES = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",), "image/webp": (b"RIFF",)}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

DEFAULT_COLOR = "#3b5bdb"  # the console's brand colour (static/css/app.css)


# --- settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Branding:
    """What the widget shows: the organization's branding on Business and Scale, else the defaults."""

    color: str
    logo_url: str  # "" (initial of the organization), an uploaded logo's URL or an https URL
    welcome_message: str
    custom: bool


def default_welcome(organization: Organization) -> str:
    return _("Bonjour ! Posez-nous votre question, nous sommes là pour vous aider.")


def branding_of(widget: ChatWidget, organization: Organization, *, uploaded_logo_url: str = "") -> Branding:
    if not has_feature(organization, Feature.WIDGET_BRANDING):
        return Branding(DEFAULT_COLOR, "", default_welcome(organization), custom=False)
    logo = uploaded_logo_url if widget.logo else widget.logo_url
    return Branding(
        color=widget.color or DEFAULT_COLOR,
        logo_url=logo,
        welcome_message=widget.welcome_message or default_welcome(organization),
        custom=True,
    )


@transaction.atomic
def create_widget(*, organization: Organization, actor: Actor, allowed_domains: list[str] = ()) -> ChatWidget:
    """The organization's widget (one per organization); returns the existing one if any."""
    require(actor, "chat.manage", organization)
    existing = ChatWidget.objects.filter(organization=organization).first()
    if existing is not None:
        return existing
    try:
        rules = domains.parse_rules(list(allowed_domains))
    except domains.InvalidDomain as exc:
        raise InvalidInput(_("Domaine invalide : %(d)s") % {"d": exc.args[0]}) from exc
    widget = ChatWidget.objects.create(organization=organization, allowed_domains=rules)
    audit.record(organization=organization, actor=actor.user, action="chat.widget_created", target_type="chat_widget",
                 target_id=widget.pk, allowed_domains=rules)
    return widget


def _check_logo(upload: UploadedFile) -> str:
    if upload.size > MAX_LOGO_BYTES:
        raise InvalidInput(_("Logo trop volumineux : 512 Ko au maximum."))
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for content_type, signatures in LOGO_TYPES.items():
        if any(head.startswith(s) for s in signatures):
            return content_type
    raise InvalidInput(_("Le logo doit être une image PNG, JPEG ou WebP."))


@transaction.atomic
def update_widget(
    *,
    widget: ChatWidget,
    actor: Actor,
    is_enabled: bool,
    allowed_domains: list[str],
    color: str | None = None,
    logo_url: str | None = None,
    welcome_message: str | None = None,
    logo: UploadedFile | None = None,
    remove_logo: bool = False,
) -> ChatWidget:
    """Save the settings. Branding arguments (``color``, ``logo_url``, ``welcome_message``, ``logo``,
    ``remove_logo``) are refused on a plan without widget branding; None leaves a value unchanged."""
    organization = widget.organization
    require(actor, "chat.manage", organization)
    branding_asked = any(v not in (None, "") for v in (color, logo_url, welcome_message)) or logo or remove_logo
    if branding_asked and not has_feature(organization, Feature.WIDGET_BRANDING):
        raise NotPermitted(_("La personnalisation du widget est réservée aux forfaits Business et Scale."))
    try:
        rules = domains.parse_rules(allowed_domains)
    except domains.InvalidDomain as exc:
        raise InvalidInput(
            _("Domaine invalide : « %(d)s ». Indiquez un nom d'hôte comme exemple.fr, *.exemple.fr ou "
              "localhost:8000.") % {"d": exc.args[0]}
        ) from exc
    if len(rules) > domains.MAX_DOMAINS:
        raise InvalidInput(_("Au plus %(n)s domaines autorisés.") % {"n": domains.MAX_DOMAINS})
    if color not in (None, "") and not _COLOR.match(color):
        raise InvalidInput(_("Couleur invalide : %(c)s (format #RRGGBB).") % {"c": color})
    if logo_url and not logo_url.startswith("https://"):
        raise InvalidInput(_("L'adresse du logo doit commencer par https://."))
    logo_type = _check_logo(logo) if logo else None

    widget = ChatWidget.objects.select_for_update().get(pk=widget.pk)
    before = {f: getattr(widget, f) for f in ("is_enabled", "allowed_domains", "color", "logo_url", "welcome_message")}
    before["logo"] = bool(widget.logo)
    widget.is_enabled = is_enabled
    widget.allowed_domains = rules
    if color is not None:
        widget.color = color
    if logo_url is not None:
        widget.logo_url = logo_url
    if welcome_message is not None:
        widget.welcome_message = welcome_message.strip()[:300]
    old_file = widget.logo.name if widget.logo and (logo or remove_logo) else ""
    if remove_logo and not logo:
        widget.logo = ""
        widget.logo_content_type = ""
    if logo:
        widget.logo.save("logo", logo, save=False)
        widget.logo_content_type = logo_type
        if old_file:
            transaction.on_commit(lambda: widget.logo.storage.delete(old_file))
    widget.updated_at = timezone.now()
    widget.save()
    after = {f: getattr(widget, f) for f in ("is_enabled", "allowed_domains", "color", "logo_url", "welcome_message")}
    after["logo"] = bool(widget.logo)
    changed = {k: {"old": before[k], "new": after[k]} for k in after if before[k] != after[k] or k == "logo" and logo}
    if changed:
        audit.record(organization=organization, actor=actor.user, action="chat.widget_updated",
                     target_type="chat_widget", target_id=widget.pk, changes=changed)
    return widget


# --- conversations -----------------------------------------------------------------------------------


def visitor_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Started:
    conversation: ChatConversation
    token: str  # handed to the visitor once; only its hash is stored


def _subject(message: str) -> str:
    first = " ".join(message.split())
    return first if len(first) <= 80 else first[:79].rstrip() + "…"


@transaction.atomic
def start_conversation(
    *, widget: ChatWidget, name: str, email: str, message: str, origin: str = "", now: datetime | None = None
) -> Started:
    """Open a chat: a ticket with channel ``chat`` (live when the team is open and an agent is here,
    else offline: the team answers by email, and in the widget if the visitor comes back)."""
    organization = widget.organization
    if not widget.is_enabled:
        raise NotPermitted(_("Le chat n'est pas disponible pour le moment."))
    message = (message or "").strip()
    name = " ".join((name or "").split())
    if not message:
        raise InvalidInput(_("Écrivez votre message."))
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(_("Votre message est trop long (%(n)s caractères au maximum).") % {"n": MAX_MESSAGE})
    if len(name) > MAX_NAME:
        raise InvalidInput(_("Votre nom est trop long."))
    if not (email or "").strip():
        raise InvalidInput(_("Indiquez votre email pour que nous puissions vous répondre."))
    now = now or timezone.now()
    mode = ConversationMode.LIVE if availability(organization, now).live else ConversationMode.OFFLINE
    ticket = ticket_services.create_ticket_for_contact(
        organization=organization, email=email, name=name, subject=_subject(message), body=message,
        channel=Channel.CHAT, created_at=now, actor=SystemActor("chat widget"),
    )
    token = secrets.token_urlsafe(32)
    conversation = ChatConversation.objects.create(
        organization=organization, widget=widget, ticket=ticket, visitor_key=visitor_key(token), mode=mode,
        origin=origin[:255], waiting_since=now, last_message_at=now, created_at=now,
    )
    audit.record(organization=organization, actor=None, action="chat.started", target_type="ticket",
                 target_id=ticket.pk, mode=mode, origin=origin[:255])
    return Started(conversation, token)


def post_visitor_message(*, conversation: ChatConversation, body: str) -> Message:
    """The visitor writes in an open conversation (reopens a resolved or closed ticket, as by email)."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput(_("Écrivez votre message."))
    if len(body) > MAX_MESSAGE:
        raise InvalidInput(_("Votre message est trop long (%(n)s caractères au maximum).") % {"n": MAX_MESSAGE})
    if not conversation.widget.is_enabled:
        raise NotPermitted(_("Le chat n'est pas disponible pour le moment."))
    return ticket_services.add_message(
        ticket=conversation.ticket, kind=MessageKind.CUSTOMER, body=body, channel=Channel.CHAT,
    )


# --- kept in step with the ticket (tickets.events, see receivers.py) ---------------------------------


def on_ticket_message(ticket: Ticket, message: Message, now: datetime) -> None:
    """A visitor message makes the chat wait for an answer; a public reply answers it."""
    if message.kind == MessageKind.CUSTOMER:
        ChatConversation.objects.filter(ticket=ticket).update(
            waiting_since=Coalesce(F("waiting_since"), Value(now)), last_message_at=now
        )
    elif message.kind == MessageKind.REPLY:
        ChatConversation.objects.filter(ticket=ticket).update(waiting_since=None, last_message_at=now)


def on_ticket_done(ticket: Ticket) -> None:
    """Resolved or closed without a reply: nobody is waiting any more."""
    ChatConversation.objects.filter(ticket=ticket, waiting_since__isnull=False).update(waiting_since=None)
