"""Access helpers: every view loads the current organization and its membership here."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest

from .models import Membership, Organization

SESSION_KEY = "lumiodesk_org_id"


def memberships_for(user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .select_related("organization")
        .order_by("created_at", "id")  # the first organization joined is the default one
    )


def current_membership(request: HttpRequest) -> Membership | None:
    return getattr(request, "membership", None)


def require_membership(request: HttpRequest, *, write: bool = False, manage: bool = False) -> Membership:
    """The membership of the signed-in user in the current organization.

    Raises Django's PermissionDenied (403) if the role may not do it. Anonymous
    users never get here: views are wrapped in ``login_required``.
    """
    membership = current_membership(request)
    if membership is None:
        raise DjangoPermissionDenied("no organization")
    if manage and not membership.can_manage:
        raise DjangoPermissionDenied("manager role required")
    if write and not membership.can_write:
        raise DjangoPermissionDenied("read-only role")
    return membership


def switch_organization(request: HttpRequest, organization_id: int) -> Organization | None:
    for m in memberships_for(request.user):
        if m.organization_id == organization_id:
            request.session[SESSION_KEY] = m.organization_id
            return m.organization
    return None
