"""Who may change the email channel's settings: Admins of the organization."""

from __future__ import annotations

from django.utils.translation import gettext as _

from lumiodesk.exceptions import PermissionDenied
from lumiodesk.models import Membership, Organization, Role


def ensure_admin(organization: Organization, user) -> None:
    ok = Membership.objects.filter(
        organization=organization, user=user, is_active=True, role=Role.ADMIN
    ).exists()
    if not ok:
        raise PermissionDenied(_("Réservé aux Admins."))
