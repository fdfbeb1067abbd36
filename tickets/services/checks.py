"""Checks shared by the ticket services: a choice among a model's choices, an assignee who may take tickets."""

from __future__ import annotations

from django.utils.translation import gettext as _

from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import Organization
from lumiodesk.permissions import member_may


def validate_choice(value: str, choices, what: str) -> str:
    if value not in choices.values:
        raise InvalidInput(_("%(what)s inconnu(e) : %(value)s") % {"what": what, "value": value})
    return value


def check_assignee(organization: Organization, assignee) -> None:
    if assignee is not None and not member_may(organization, assignee, "tickets.be_assigned"):
        raise NotPermitted(_("Cet agent ne peut pas recevoir de tickets."))
