"""Mailboxes, every inbound email as received (raw bytes first), and the Message-IDs we thread on."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lumiodesk import crypto
from lumiodesk.models import Organization


def new_forward_token() -> str:
    return secrets.token_hex(5)


class Mailbox(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=100)
    address = models.EmailField(_("adresse support"), help_text=_("L'adresse que vos clients utilisent."))
    forward_token = models.CharField(max_length=20, default=new_forward_token, unique=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # SMTP/IMAP connection (Business and Scale). Passwords are stored encrypted.
    imap_host = models.CharField(_("serveur IMAP"), max_length=200, blank=True)
    imap_port = models.PositiveIntegerField(_("port IMAP"), default=993)
    imap_ssl = models.BooleanField(_("IMAP chiffré (SSL/TLS)"), default=True)
    imap_user = models.CharField(_("utilisateur IMAP"), max_length=200, blank=True)
    imap_password_encrypted = models.TextField(blank=True, editable=False)
    imap_folder = models.CharField(_("dossier IMAP"), max_length=200, default="INBOX")
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    imap_last_uid = models.BigIntegerField(default=0, editable=False)
    imap_last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    imap_last_error = models.TextField(blank=True, editable=False)
    smtp_host = models.CharField(_("serveur SMTP"), max_length=200, blank=True)
    smtp_port = models.PositiveIntegerField(_("port SMTP"), default=587)
    smtp_user = models.CharField(_("utilisateur SMTP"), max_length=200, blank=True)
    smtp_password_encrypted = models.TextField(blank=True, editable=False)
    smtp_starttls = models.BooleanField(_("STARTTLS"), default=True)
    # Own-address routing (the SMTP receiver answering for ``address``) needs a proof that the
    # organization receives mail there: a one-time link sent to the address (``verification``).
    # Until then only the forwarding address routes to this mailbox.
    address_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verification_token_hash = models.CharField(max_length=64, blank=True, editable=False)  # SHA-256
    verification_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("boîte email")
        verbose_name_plural = _("boîtes email")
        constraints = [
            models.UniqueConstraint("organization", Lower("address"), name="mailbox_unique_address_per_org"),
            # One organization at most receives mail at a verified address (also the receiver's lookup index).
            models.UniqueConstraint(
                Lower("address"), condition=models.Q(address_verified_at__isnull=False),
                name="mailbox_unique_verified_address",
            ),
        ]
        indexes = [
            models.Index(fields=["verification_token_hash"], name="mailbox_verification_idx",
                         condition=~models.Q(verification_token_hash="")),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def is_verified(self) -> bool:
        return self.address_verified_at is not None

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def uses_imap(self) -> bool:
        return bool(self.imap_host and self.imap_user)

    @property
    def uses_smtp(self) -> bool:
        return bool(self.smtp_host)

    def forwarding_address(self, domain: str) -> str:
        return f"{self.organization.slug}-{self.forward_token}@{domain}"

    def set_imap_password(self, value: str) -> None:
        self.imap_password_encrypted = crypto.encrypt(value)

    def imap_password(self) -> str:
        return crypto.decrypt(self.imap_password_encrypted)

    def set_smtp_password(self, value: str) -> None:
        self.smtp_password_encrypted = crypto.encrypt(value)

    def smtp_password(self) -> str:
        return crypto.decrypt(self.smtp_password_encrypted)


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Reçu")
    IMPORTED = "imported", _("Importé")
    DUPLICATE = "duplicate", _("Doublon")
    IGNORED = "ignored", _("Ignoré (automatique)")
    BOUNCE = "bounce", _("Retour de non-remise")
    QUARANTINED = "quarantined", _("En quarantaine")


class InboundEmail(models.Model):
    """One email as it arrived. The raw bytes are kept whatever happens next."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="inbound")
    source = models.CharField(max_length=10)  # smtp, imap, file
    raw = models.BinaryField()
    size = models.PositiveIntegerField()
    digest = models.CharField(max_length=64)
    message_key = models.CharField(max_length=520)  # Message-ID, or "sha256:<digest>" without one
    # Sender, Date, subject (parsing.RelayIdentity.digest): with message_key, what makes a copy a duplicate. Empty:
    # unknown (the first original of a Message-ID, messages stored before 0021), read from ``raw`` when needed.
    content_digest = models.CharField(max_length=64, blank=True, default="", db_default="")
    envelope_from = models.CharField(max_length=320, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    reason = models.TextField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    from_email = models.CharField(max_length=320, blank=True)
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey("tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "status", "-received_at"], name="inbound_status_idx"),
            models.Index(fields=["organization", "message_key"], name="inbound_key_idx"),
            models.Index(fields=["mailbox", "-received_at"], name="inbound_mailbox_idx"),
            # Stored but not processed yet: the sweeper (intake.process_stale) reads these.
            models.Index(fields=["received_at"], name="inbound_pending_idx", condition=models.Q(status="received")),
        ]
        constraints = [
            # One original per organization and message (Message-ID and content): duplicates point at it.
            models.UniqueConstraint(
                fields=["organization", "message_key", "content_digest"],
                condition=~models.Q(status="duplicate"),
                name="inbound_unique_original",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.message_key} ({self.status})"


class EmailReference(models.Model):
    """A Message-ID that belongs to a ticket: the customer's (inbound) or ours (outbound)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=500)
    outbound = models.BooleanField(default=False)
    # Sent by different messages that landed on different tickets (a reused Message-ID): threads nowhere.
    ambiguous = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "message_id"], name="emailref_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.message_id
