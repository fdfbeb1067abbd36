"""CRM customers and their companies. (The portal's sign-in links and satisfaction ratings live with the
portal: ``tickets.portal.models``.)"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Concat, Lower
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization


def company_search_expression():
    """What the company list searches (``LIKE '%word%'``), served by the trigram index of the same expression."""
    return Lower("name")


def customer_search_expression():
    """What the customer list searches: names and email in lower case, served by ``customer_search_trgm``."""
    return Lower(Concat("first_name", models.Value(" "), "last_name", models.Value(" "), "email",
                        output_field=models.TextField()))


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
        indexes = [
            GinIndex(OpClass(company_search_expression(), name="gin_trgm_ops"), name="company_search_trgm"),
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
            GinIndex(OpClass(customer_search_expression(), name="gin_trgm_ops"), name="customer_search_trgm"),
            # The customer list, sorted by name (paginated at 100,000 customers).
            models.Index("organization", "last_name", "first_name", "id", name="customer_list_idx"),
            models.Index("organization", "company", name="customer_company_idx"),
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


# --- the cost of support (001 §2, "BUDGET"): agents' hourly cost and budgets -----------------------------
# The time logged on tickets belongs to ``tickets`` (``tickets.costs``): these rows know nothing of it.


class HourlyRate(models.Model):
    """An agent's hourly cost (EUR) from ``effective_from``; the history is kept, a change adds a row.

    The rate in force on a day is the row with the latest ``effective_from`` on or before that day. A time
    entry keeps a copy of the rate it was costed at, so a new rate never changes time already logged."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("agent"))
    amount = models.DecimalField(_("coût horaire (EUR)"), max_digits=8, decimal_places=2)
    effective_from = models.DateField(_("en vigueur à partir du"))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("coût horaire")
        verbose_name_plural = _("coûts horaires")
        constraints = [
            models.UniqueConstraint(fields=["organization", "user", "effective_from"], name="hourlyrate_unique_day"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="hourlyrate_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} EUR/h from {self.effective_from}"


class BudgetPeriod(models.TextChoices):
    MONTH = "month", _("Mois")
    QUARTER = "quarter", _("Trimestre")
    YEAR = "year", _("Année")


class Budget(models.Model):
    """The forecast cost of a company's or a customer's support over one period (001 "BUDGET")."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets",
                                verbose_name=_("entreprise"))
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="budgets", verbose_name=_("client"))
    period = models.CharField(_("période"), max_length=10, choices=BudgetPeriod.choices)
    start = models.DateField(_("début"))
    end = models.DateField(_("fin"))  # exclusive: the first day after the period
    amount = models.DecimalField(_("montant prévu (EUR)"), max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(company__isnull=False, customer__isnull=True)
                | models.Q(company__isnull=True, customer__isnull=False),
                name="budget_company_xor_customer",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="budget_amount_positive"),
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="budget_end_after_start"),
            models.UniqueConstraint(fields=["organization", "company", "period", "start"],
                                    condition=models.Q(company__isnull=False), name="budget_unique_company_period"),
            models.UniqueConstraint(fields=["organization", "customer", "period", "start"],
                                    condition=models.Q(customer__isnull=False), name="budget_unique_customer_period"),
        ]
        indexes = [models.Index("organization", "start", "end", name="budget_period_idx")]

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.start}: {self.amount} EUR"


class BudgetAlertKind(models.TextChoices):
    REACHED_80 = "80", _("80 % atteints")
    REACHED_100 = "100", _("100 % atteints")
    PACE = "pace", _("Dépassement prévu au rythme actuel")


class BudgetAlert(models.Model):
    """One alert told to the Managers, once per budget and kind: the unique constraint is the guard
    (``INSERT ... ON CONFLICT DO NOTHING``: two concurrent checks send one alert)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=8, choices=BudgetAlertKind.choices)
    actual = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["budget", "kind"], name="budgetalert_once_per_kind")]

    def __str__(self) -> str:
        return f"budget {self.budget_id}: {self.kind}"
