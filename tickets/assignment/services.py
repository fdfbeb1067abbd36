"""Settings > Assignment: turning assignment by availability on or off, its load limit, the eligible roles."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from .models import ELIGIBLE_ROLE_CHOICES, MAX_LOAD_LIMIT, AutoAssignment


def parse_load_limit(value) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LOAD_LIMIT:
        raise InvalidInput(
            _("La charge maximale est un nombre de tickets entre 1 et %(max)s.") % {"max": MAX_LOAD_LIMIT}
        )
    return int(text)


@transaction.atomic
def save_setting(
    *, actor: Actor, organization: Organization, enabled: bool, load_limit, roles: Iterable[str]
) -> AutoAssignment:
    """Change the setting (one audit row, before and after). At least one eligible role."""
    require(actor, "assignment.manage", organization)
    limit = parse_load_limit(load_limit)
    wanted = [r for r in ELIGIBLE_ROLE_CHOICES if r in set(roles)]
    if not wanted:
        raise InvalidInput(_("Choisissez au moins un rôle qui reçoit des tickets."))
    setting, _created = AutoAssignment.objects.select_for_update().get_or_create(organization=organization)
    before = {"enabled": setting.enabled, "load_limit": setting.load_limit, "roles": list(setting.roles)}
    setting.enabled, setting.load_limit, setting.roles = enabled, limit, [str(r) for r in wanted]
    after = {"enabled": setting.enabled, "load_limit": setting.load_limit, "roles": list(setting.roles)}
    if before != after or _created:
        setting.save()
        audit.record(
            organization=organization,
            actor=actor.user,
            action="assignment.settings",
            target_type="organization",
            target_id=organization.pk,
            before=before,
            after=after,
        )
    return setting
