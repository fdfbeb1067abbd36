"""CRM customers and their companies. (The portal's sign-in links and satisfaction ratings live with the
portal: ``tickets.portal.models``.)"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization


class Company(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("nom"), max_length=200)
    domain = models.CharField(_("domaine"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("entreprise")
        verbose_name_plural = _("entreprises")
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="company_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerContactChoice(models.TextChoices):
    """How a customer wants to hear from us (002: web_only, email_only, both, none)."""

    WEB_ONLY = "web_only", _("Web uniquement")
    EMAIL_ONLY = "email_only", _("Email uniquement")
    BOTH = "both", _("Web et email")
    NONE = "none", _("Aucune")


class CustomerQuerySet(models.QuerySet):
    def with_email(self, email: str) -> CustomerQuerySet:
        """Case-insensitive, on the (organization, lower(email)) unique index; ``email__iexact`` compiles
        to UPPER() = UPPER(), which no index serves."""
        return self.alias(_email_lower=Lower("email")).filter(_email_lower=Lower(models.Value(email)))

    def find_by_email(self, organization_id: int, email: str) -> Customer | None:
        """The customer of the organization with this email (as ``with_email``), read on every message of
        every channel: a fixed statement the server prepares, no ORM compilation."""
        found = list(self.raw(
            f"SELECT * FROM {self.model._meta.db_table} WHERE organization_id = %s AND lower(email) = lower(%s) "
            "LIMIT 1",
            [organization_id, email],
        ))
        return found[0] if found else None


class Customer(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    first_name = models.CharField(_("prénom"), max_length=100, blank=True)
    last_name = models.CharField(_("nom"), max_length=100, blank=True)
    email = models.EmailField(_("email"))
    phone = models.CharField(_("téléphone"), max_length=40, blank=True)
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
        verbose_name=_("entreprise"),
    )
    notification_preference = models.CharField(
        _("préférence de notification"),
        max_length=16,
        choices=CustomerContactChoice.choices,
        default=CustomerContactChoice.BOTH,
    )
    # Free customer fields used by rules (e.g. {"plan": "Enterprise"}).
    attributes = models.JSONField(_("attributs"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        constraints = [
            models.UniqueConstraint("organization", Lower("email"), name="customer_unique_email_per_org"),
        ]
        indexes = [
            GinIndex(
                fields=["email"], name="customer_email_trgm", opclasses=["gin_trgm_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def wants_web(self) -> bool:
        return self.notification_preference in (CustomerContactChoice.WEB_ONLY, CustomerContactChoice.BOTH)

    @property
    def wants_email(self) -> bool:
        return self.notification_preference in (CustomerContactChoice.EMAIL_ONLY, CustomerContactChoice.BOTH)
