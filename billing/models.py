"""Subscriptions, invoices, seat days, ticket-volume alerts and refund requests (billing).

Every change of these rows goes through a service: ``billing.subscriptions`` (the state machine and plan
changes), ``billing.invoices`` (the monthly invoice and its PDF), ``billing.alerts`` (ticket volume),
``billing.refunds`` (refund approvals). Amounts are ``Decimal`` EUR with two places; instants are UTC.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization, Plan


class SubscriptionStatus(models.TextChoices):
    TRIAL = "trial", _("Essai")
    ACTIVE = "active", _("Actif")
    READ_ONLY = "read_only", _("Lecture seule (essai terminé)")
    CANCELLED = "cancelled", _("Résilié")


class Subscription(models.Model):
    """One per organization. ``plan`` is the plan paid for (empty during the trial and after it); the
    organization's ``plan`` field (core) is what the features and limits read."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.TRIAL)
    plan = models.CharField(_("forfait"), max_length=16, choices=Plan.choices, blank=True)
    trial_ends_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    read_only_since = models.DateTimeField(null=True, blank=True)
    deletion_scheduled_at = models.DateTimeField(null=True, blank=True)  # cancelled + 30 days (section 18)
    last_invoice_number = models.PositiveIntegerField(default=0)  # gapless numbering: select_for_update
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("abonnement")
        verbose_name_plural = _("abonnements")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="active") | ~models.Q(plan=""), name="subscription_active_has_plan"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.status} {self.plan}"


class PlanChange(models.Model):
    """A change of the paid plan during a month (or the first plan after the trial): its prorated amount
    (positive: due; negative: credited) goes on the next invoice."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    from_plan = models.CharField(max_length=16, blank=True)  # "" = from the trial (nothing paid)
    to_plan = models.CharField(max_length=16)
    days = models.PositiveSmallIntegerField()  # days left in the month, the day of the change included
    days_in_month = models.PositiveSmallIntegerField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    invoice = models.ForeignKey("Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        indexes = [models.Index(fields=["organization", "at"], name="planchange_org_at_idx")]

    def __str__(self) -> str:
        return f"{self.from_plan or 'trial'} -> {self.to_plan} {self.amount}"


class SeatDay(models.Model):
    """How many seats an organization used on one UTC day, and on which plan: the highest count seen that
    day (an agent who was active at any moment of the day counts for the day)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    seats = models.PositiveIntegerField()
    plan = models.CharField(max_length=16, blank=True)  # "" during the trial: nothing billed

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "day"], name="seatday_one_per_day")]

    def __str__(self) -> str:
        return f"{self.day}: {self.seats}"


class TicketVolumeAlert(models.Model):
    """One row per organization, month and threshold: inserted with ON CONFLICT DO NOTHING, so the alert
    is sent once however many tickets cross the threshold at the same time."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()  # first day of the calendar month, UTC
    threshold = models.PositiveSmallIntegerField()  # 80, 100, 120
    tickets = models.PositiveIntegerField()
    limit = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "month", "threshold"], name="volumealert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.threshold} %"


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", _("Émise")
    PAID = "paid", _("Payée")
    VOID = "void", _("Annulée")


class Invoice(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()  # 1, 2, 3… per organization, without gaps
    period = models.DateField()  # first day of the month the plan is paid for (issued that day, 00:00 UTC)
    issued_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED)
    language = models.CharField(max_length=8, default="fr")
    subtotal = models.DecimalField(max_digits=10, decimal_places=2)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)  # percent
    vat = models.DecimalField(max_digits=10, decimal_places=2)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    pdf = models.BinaryField(editable=False, default=bytes)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("facture")
        verbose_name_plural = _("factures")
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="invoice_number_unique"),
            models.UniqueConstraint(fields=["organization", "period"], name="invoice_one_per_month"),
        ]
        indexes = [models.Index(fields=["organization", "-period"], name="invoice_org_period_idx")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"LD-{self.organization_id}-{self.number:05d}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=300)  # written in the invoice's language
    detail = models.CharField(max_length=300, blank=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.description


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("En attente")
    APPROVED = "approved", _("Approuvé")
    REJECTED = "rejected", _("Refusé")


class RefundRequest(models.Model):
    """A commercial refund asked by an agent on a ticket (section 15). Approved by a person, never a rule."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # By name: billing sits below tickets and never imports it (docs/architecture.md).
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    amount = models.DecimalField(_("montant (EUR)"), max_digits=10, decimal_places=2)
    reason = models.TextField(_("motif"))
    status = models.CharField(max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("demande de remboursement")
        verbose_name_plural = _("demandes de remboursement")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")]
        indexes = [
            models.Index(fields=["organization", "status", "-requested_at"], name="refund_org_status_idx"),
            models.Index(fields=["organization", "ticket"], name="refund_org_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} EUR ({self.status})"
