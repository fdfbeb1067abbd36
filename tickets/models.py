"""Tickets, their messages and attachments, tags, shared views, reply templates
and the customers' web notifications."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from lumiodesk.models import Organization


class Status(models.TextChoices):
    NEW = "new", _("Nouveau")
    OPEN = "open", _("Ouvert")
    WAITING_CUSTOMER = "waiting_customer", _("En attente client")
    WAITING_INTERNAL = "waiting_internal", _("En attente interne")
    RESOLVED = "resolved", _("Résolu")
    CLOSED = "closed", _("Fermé")


# Open: every status before Résolu (an agent's load, the tickets a deactivated member hands over).
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING_CUSTOMER, Status.WAITING_INTERNAL)


class Priority(models.TextChoices):
    LOW = "low", _("Basse")
    NORMAL = "normal", _("Normale")
    HIGH = "high", _("Haute")
    URGENT = "urgent", _("Urgente")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    FORM = "form", _("Formulaire")
    MANUAL = "manual", _("Manuel")
    API = "api", _("API")


class Tag(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint("organization", Lower("name"), name="tag_unique_name_per_org")]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField(_("numéro"))
    subject = models.CharField(_("sujet"), max_length=255)
    status = models.CharField(_("statut"), max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(_("priorité"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    is_urgent = models.GeneratedField(
        expression=models.Case(
            models.When(priority=Priority.URGENT, then=models.Value(True)),
            default=models.Value(False),
        ),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices, default=Channel.MANUAL)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("client")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        verbose_name=_("responsable"),
    )
    tags = models.ManyToManyField(Tag, through="TicketTag", related_name="tickets", blank=True)
    mailbox = models.ForeignKey(
        "tickets.Mailbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("boîte email"),
    )
    imported = models.BooleanField(default=False, help_text="Historical import: no automation, no notification.")
    # From the public contact form by someone who has not proved they own the customer's address: agents
    # see and answer it; the customer's portal shows it only once they confirm from the acknowledgement.
    # db_default: the benches' raw INSERTs leave it out.
    sender_unverified = models.BooleanField(_("adresse non vérifiée"), default=False, db_default=False)
    # Written by a machine (Auto-Submitted, a list, a no-reply sender...): a ticket all the same, never
    # acknowledged, no agent notification, no automatic email to its sender (issue 22).
    is_automatic = models.BooleanField(_("automatique"), default=False, db_default=False)
    # No SLA clock (the organization's setting for automatic mail, read when the ticket is created).
    out_of_sla = models.BooleanField(default=False, db_default=False)  # db_default: raw INSERTs (benches) omit it

    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    updated_at = models.DateTimeField(_("mis à jour le"), default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(_("première réponse"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("résolu le"), null=True, blank=True)
    closed_at = models.DateTimeField(_("fermé le"), null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    # Follow-ups already sent in the current waiting_customer episode (0, 1 or 2).
    followups_sent = models.PositiveSmallIntegerField(default=0)

    # SLA, in business time: stamped by the sla step of tickets.pipeline, in the same transaction.
    first_response_due_at = models.DateTimeField(_("première réponse attendue avant"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("résolution attendue avant"), null=True, blank=True)
    # The resolution clock is stopped (waiting on the customer, resolved) since this instant...
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    # ... and has been stopped for this much business time before (it pushes resolution_due_at back).
    sla_paused_seconds = models.PositiveIntegerField(default=0)
    # The nearest due time still running (list sort and filters); NULL when no clock runs.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # From this instant the ticket is "due soon" (the SLA warning's lead before sla_due_at).
    sla_warn_at = models.DateTimeField(null=True, blank=True)
    # When the SLA scan must look at the ticket next (a warning, a breach, or the next opening).
    sla_next_alert_at = models.DateTimeField(null=True, blank=True)
    # Marked as spam (002 "Ticket spam"): closed without any customer notification; unmarking puts it back
    # in the status it had (tickets.services.spam).
    spam_at = models.DateTimeField(_("marqué comme spam le"), null=True, blank=True)
    status_before_spam = models.CharField(max_length=20, blank=True, default="", db_default="")

    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="ticket_unique_number_per_org"),
            models.CheckConstraint(condition=~models.Q(subject=""), name="ticket_subject_not_empty"),
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="ticket_status_valid"),
            models.CheckConstraint(condition=models.Q(priority__in=Priority.values), name="ticket_priority_valid"),
        ]
        indexes = [
            models.Index("organization", models.F("is_urgent").desc(), models.F("created_at").desc(),
                         name="ticket_list_idx"),
            # With the priority: a status and priority filter is counted on the index alone (0.4 ms, where
            # the planner, misled by other organizations' tickets, read all of one's: 31 ms); the dashboard's
            # open backlog by status and age too (spam_at included; channel and assignee: its filters, read from
            # the heap they took 243 ms at 1,000,000 tickets, 100,000 of them open).
            models.Index(fields=["organization", "status", "-is_urgent", "-created_at"],
                         include=["priority", "spam_at", "channel", "assignee"], name="ticket_status_list_idx"),
            models.Index("organization", "priority", models.F("created_at").desc(), name="ticket_priority_idx"),
            # Resolved today (the console's counter), closed per week (the dashboard): a period of resolutions.
            models.Index("organization", "resolved_at", name="ticket_resolved_idx", include=["spam_at"],
                         condition=models.Q(resolved_at__isnull=False)),
            # The dashboard's and the reports' period (tickets created between two dates), counted on the index
            # alone: what the figures read of each ticket is included.
            models.Index(fields=["organization", "created_at"], name="ticket_created_idx",
                         include=["id", "status", "assignee", "resolved_at", "first_response_at",
                                  "last_customer_message_at", "spam_at", "imported"]),
            models.Index("organization", "assignee", "status", name="ticket_assignee_idx"),
            # The "Automatique" view: a few tickets among many, a partial index.
            models.Index("organization", models.F("created_at").desc(), name="ticket_automatic_idx",
                         condition=models.Q(is_automatic=True)),
            models.Index("organization", "customer", models.F("created_at").desc(), name="ticket_customer_idx"),
            models.Index(
                "status", "status_changed_at", name="ticket_lifecycle_idx",
                condition=models.Q(status__in=[Status.RESOLVED, Status.WAITING_CUSTOMER]),
            ),
            GinIndex(fields=["search_vector"], name="ticket_search_idx"),
            # SLA: the list sorted or filtered by due time (only tickets with a running clock)...
            # (the dashboard counts "at risk" and "breached now" on it alone: the warning instant is included, and
            # the columns of its filters).
            models.Index("organization", models.F("is_urgent").desc(), "sla_due_at", name="ticket_sla_due_idx",
                         include=["sla_warn_at", "spam_at", "channel", "priority", "assignee"],
                         condition=models.Q(sla_due_at__isnull=False)),
            # Queue hygiene (002), read across organizations by the sla app's beat: "En cours" by last activity,
            # and the urgent tickets still waiting for us (tickets.selectors.stale_condition).
            models.Index("updated_at", name="ticket_in_progress_idx",
                         condition=models.Q(status__in=["open", "waiting_internal"])),
            models.Index("created_at", name="ticket_urgent_active_idx",
                         condition=models.Q(priority="urgent", status__in=["new", "open", "waiting_internal"])),
            # Marked as spam: the "Spam" view, and the few ids the dashboard leaves out of its figures.
            models.Index("organization", "spam_at", name="ticket_spam_idx", condition=models.Q(spam_at__isnull=False)),
            # ... and the SLA scan of every organization: the few tickets whose next alert has come.
            models.Index("sla_next_alert_at", name="ticket_sla_alert_idx",
                         condition=models.Q(sla_next_alert_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"


class TicketTag(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "tag"], name="tickettag_unique")]
        indexes = [models.Index(fields=["organization", "tag", "ticket"], name="tickettag_tag_idx")]

    def __str__(self) -> str:
        return f"{self.ticket_id}:{self.tag_id}"


class MessageKind(models.TextChoices):
    CUSTOMER = "customer", _("Message client")
    REPLY = "reply", _("Réponse publique")
    NOTE = "note", _("Note interne")


class Message(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.MANUAL)
    body_html = models.TextField(blank=True)  # sanitized with nh3 before it is stored
    body_text = models.TextField(blank=True)
    # Quoted history and signature of an email, folded away in the conversation.
    body_quoted = models.TextField(blank=True)
    email_message_id = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=MessageKind.values), name="message_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on ticket {self.ticket_id}"

    @property
    def is_public(self) -> bool:
        return self.kind != MessageKind.NOTE


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.organization_id}/{timezone.now():%Y/%m}/{instance.token}"


class Attachment(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    token = models.CharField(max_length=32, unique=True)
    file = models.FileField(upload_to=attachment_path, max_length=255)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    # An email's inline image: its Content-ID, which the message's HTML shows as <img src="cid:...">.
    content_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Past the plan's retention (section 18) the file is deleted from storage (tickets.services.retention): the
    # row stays, so the conversation still names it, as "pièce jointe expirée".
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["message"], name="attachment_message_idx"),
            # The daily purge reads the oldest attachments still stored.
            models.Index(fields=["created_at"], name="attachment_unexpired_idx",
                         condition=models.Q(expired_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.filename


class SavedView(models.Model):
    """A shared view: saved filters visible to the whole team (section 19)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=80)
    filters = models.JSONField(default=dict)
    position = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="savedview_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class ReplyTemplate(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=120)
    body = models.TextField(_("texte"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="replytemplate_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerNotificationKind(models.TextChoices):
    AGENT_REPLY = "agent_reply", _("Réponse de l'équipe")
    WAITING_CUSTOMER = "waiting_customer", _("En attente de votre réponse")
    RESOLVED = "resolved", _("Résolu")
    CLOSED = "closed", _("Fermé")


class NotificationLevel(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"


class CustomerNotification(models.Model):
    """One event told to a customer, on the web, by email or both (their preference)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notifications")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="customer_notifications")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=CustomerNotificationKind.choices)
    level = models.CharField(max_length=10, choices=NotificationLevel.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    web = models.BooleanField(default=False)
    email = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # The email came back (a delivery report matched to it): when, and the reason the report gives.
    email_failed_at = models.DateTimeField(null=True, blank=True)
    email_failure = models.TextField(blank=True, db_default="")
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "customer", "-created_at"], name="custnotif_customer_idx"),
            models.Index(fields=["ticket", "-created_at"], name="custnotif_ticket_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class BlockedSender(models.Model):
    """An address whose mail is quarantined by email intake instead of making tickets (marked as spam)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(_("adresse"), max_length=320)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("expéditeur bloqué")
        verbose_name_plural = _("expéditeurs bloqués")
        constraints = [
            # Stored in lower case (tickets.services.spam), read by email intake with one index lookup.
            models.UniqueConstraint(fields=["organization", "email"], name="blockedsender_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.email


from .api.models import ApiKey, IdempotencyRecord  # noqa: E402, F401
from .assignment.models import AssignmentTurn, AutoAssignment  # noqa: E402, F401
from .chat.models import ChatConversation, ChatWidget  # noqa: E402, F401
from .costs.models import TicketCostMonth, TimeCostMonth, TimeEntry  # noqa: E402, F401
from .email.models import EmailReference, InboundEmail, InboundStatus, Mailbox  # noqa: E402, F401
from .exports.models import Export, ExportQuota  # noqa: E402, F401
from .imports.models import ImportedRow, ImportRun  # noqa: E402, F401
from .portal.models import PortalSignInLink, SatisfactionRating  # noqa: E402, F401
