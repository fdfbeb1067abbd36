"""The portal's own rows: one-time sign-in links and satisfaction ratings (moved from ``crm``, state only: the
tables keep their names ``crm_portalsigninlink`` and ``crm_satisfactionrating``). Registered through
``tickets.models``, like the chat and email models (so they name ``tickets.Ticket`` by string, not by import)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from lumiodesk.models import Organization


class PortalSignInLink(models.Model):
    """A one-time link to the customer portal, sent by email (no password).

    Only the SHA-256 of the token is stored: the token itself exists in the email alone. A link is
    good once, for ``expires_at - created_at`` (30 minutes); redeeming it is a conditional UPDATE on
    ``used_at IS NULL``, so two clicks (or two tabs) never open two sessions with one link.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    requested_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        db_table = "crm_portalsigninlink"  # moved from crm (state only): the table kept its name
        verbose_name = _("lien de connexion à l'espace client")
        verbose_name_plural = _("liens de connexion à l'espace client")
        indexes = [models.Index(fields=["organization", "customer", "-created_at"], name="portallink_customer_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("created_at")),
                                   name="portallink_expires_after_creation"),
        ]

    def __str__(self) -> str:
        return f"portal link {self.pk} for customer {self.customer_id}"


class SatisfactionRating(models.Model):
    """The customer's rating of a resolved ticket (1 to 5 stars and a free comment).

    One per ticket. ``agent`` is the ticket's assignee when the customer rated (the reports' "per agent");
    the customer may change the rating during ``RATING_CHANGE_DAYS`` after ``created_at``.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, related_name="satisfaction")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="satisfaction_ratings")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("agent"),
    )
    score = models.PositiveSmallIntegerField(_("note"))
    comment = models.TextField(_("commentaire"), blank=True)
    created_at = models.DateTimeField(_("noté le"))
    updated_at = models.DateTimeField(_("modifié le"))

    class Meta:
        db_table = "crm_satisfactionrating"  # moved from crm (state only): the table kept its name
        verbose_name = _("évaluation de satisfaction")
        verbose_name_plural = _("évaluations de satisfaction")
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="satisfaction_score_1_to_5"),
        ]
        indexes = [
            models.Index(fields=["organization", "agent", "created_at"], name="satisfaction_agent_idx"),
            # The dashboard's latest comments: newest first, read until five of the period (sla.dashboard.figures).
            models.Index(fields=["organization", "-updated_at", "-id"], name="satisfaction_comment_idx",
                         condition=~models.Q(comment="")),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 on ticket {self.ticket_id}"
