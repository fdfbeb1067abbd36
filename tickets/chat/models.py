"""The chat widget of an organization (Settings > Channels > Chat) and its conversations.

A conversation *is* a ticket with channel ``chat``: ``ChatConversation`` only adds what the widget
needs around it — the visitor's secret (stored hashed), where the chat started, and whether the
visitor is waiting for an answer (the console's chat inbox).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization


def new_workspace_id() -> str:
    return secrets.token_hex(10)


def logo_path(instance: ChatWidget, filename: str) -> str:
    return f"widget/{instance.organization_id}/logo-{secrets.token_hex(6)}"


class ChatWidget(models.Model):
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    # Public: it is written in the install snippet on the customer's site.
    workspace_id = models.CharField(max_length=32, unique=True, default=new_workspace_id, editable=False)
    is_enabled = models.BooleanField(_("widget activé"), default=True)
    # Hosts the widget may run on: "example.com", "*.example.com", "localhost:8000" (no port = any port).
    allowed_domains = models.JSONField(_("domaines autorisés"), default=list, blank=True)
    # Branding (Business and Scale): empty means the LumioDesk default.
    color = models.CharField(_("couleur"), max_length=7, blank=True)
    logo = models.FileField(_("logo"), upload_to=logo_path, max_length=255, blank=True)
    logo_content_type = models.CharField(max_length=50, blank=True, editable=False)
    logo_url = models.URLField(_("adresse du logo"), max_length=500, blank=True)
    welcome_message = models.CharField(_("message d'accueil"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("widget chat")
        verbose_name_plural = _("widgets chat")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(color="") | models.Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="chatwidget_color_hex"
            ),
        ]

    def __str__(self) -> str:
        return self.workspace_id


class ConversationMode(models.TextChoices):
    LIVE = "live", _("Chat en direct")
    OFFLINE = "offline", _("Message hors ligne")


class ChatConversation(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    widget = models.ForeignKey(ChatWidget, on_delete=models.CASCADE, related_name="conversations")
    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, related_name="chat")
    # sha256 of the visitor's token (the token itself lives only in the visitor's browser).
    visitor_key = models.CharField(max_length=64, unique=True)
    mode = models.CharField(max_length=10, choices=ConversationMode.choices)
    origin = models.CharField(_("site d'origine"), max_length=255, blank=True)
    # The visitor wrote and nobody answered yet (cleared by a public reply, resolve or close).
    waiting_since = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("conversation chat")
        verbose_name_plural = _("conversations chat")
        indexes = [
            # The console's chat inbox: an organization's latest conversations...
            models.Index("organization", models.F("last_message_at").desc(), name="chatconv_inbox_idx"),
            # ... and the few waiting for an answer (the badge, polled by every open console).
            models.Index(
                "organization", "waiting_since", name="chatconv_waiting_idx",
                condition=models.Q(waiting_since__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(mode__in=ConversationMode.values), name="chatconv_mode_valid"),
        ]

    def __str__(self) -> str:
        return f"chat {self.pk} (ticket {self.ticket_id})"
