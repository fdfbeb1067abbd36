"""Assignment by availability (001 §2 option): the organization's setting and each agent's turn.
Registered through ``tickets.models``; the rule is in ``tickets.assignment.pipeline``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import Organization, Role

DEFAULT_LOAD_LIMIT = 20
MAX_LOAD_LIMIT = 500
# Who may take tickets by availability: the roles that answer tickets (``tickets.reply``, ``tickets.be_assigned``).
ELIGIBLE_ROLE_CHOICES = (Role.AGENT, Role.MANAGER, Role.ADMIN)


def default_roles() -> list[str]:
    return [Role.AGENT, Role.MANAGER]


class AutoAssignment(models.Model):
    """One row per organization that opened the setting; no row means off."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True, related_name="+")
    enabled = models.BooleanField(_("assignation par disponibilité"), default=False)
    load_limit = models.PositiveSmallIntegerField(
        _("charge maximale (tickets ouverts par agent)"), default=DEFAULT_LOAD_LIMIT
    )
    roles = ArrayField(models.CharField(max_length=16, choices=Role.choices), default=default_roles)
    turns = models.PositiveBigIntegerField(default=0, editable=False)  # tickets assigned so far: the turn counter
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("assignation par disponibilité")
        constraints = [
            models.CheckConstraint(condition=models.Q(load_limit__gte=1), name="auto_assignment_load_limit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {'on' if self.enabled else 'off'}"


class AssignmentTurn(models.Model):
    """An agent's last ticket by availability: the round-robin pointer among equal loads (the lowest ``turn``,
    served longest ago, goes first; never served, first of all). ``turn`` is the setting's counter at that
    assignment (strictly increasing, unlike a clock), taken under the setting row's lock (``pipeline``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    turn = models.PositiveBigIntegerField()
    last_assigned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="assignment_turn_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.user_id}: {self.turn}"
