from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone, translation

from . import audit
from .access import SESSION_KEY, SSO_SCOPE_KEY, memberships_for
from .permissions import Can, MemberActor
from .ratelimit import client_ip


class CurrentOrganizationMiddleware:
    """Sets ``request.organization``, ``request.membership``, ``request.memberships`` and ``request.actor``
    (a ``MemberActor``, or None without an organization), and ``request.can`` (lumiodesk.permissions.Can).

    The organization is the one chosen in the session, else the user's first.
    Activates the organization's time zone, and its language unless the user
    picked one (Django's language cookie). Binds the client's address for audit rows (``lumiodesk.audit``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organization = None
        request.membership = None
        request.memberships = []
        request.actor = None
        if request.user.is_authenticated:
            memberships = memberships_for(request.user)
            scope = request.session.get(SSO_SCOPE_KEY)
            if scope is not None:  # signed in by an organization's IdP: that organization only
                memberships = [m for m in memberships if m.organization_id == scope]
            request.memberships = memberships
            chosen = request.session.get(SESSION_KEY)
            membership = next((m for m in memberships if m.organization_id == chosen), None)
            if membership is None and memberships:
                membership = memberships[0]
            if membership is not None:
                request.membership = membership
                request.organization = membership.organization
                request.actor = MemberActor(membership)
                timezone.activate(zoneinfo.ZoneInfo(membership.organization.time_zone))
                if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
                    translation.activate(membership.organization.language)
                    request.LANGUAGE_CODE = translation.get_language()
        request.can = Can(request.actor)
        try:
            with audit.bind_ip(client_ip(request)):  # audit rows of this request carry the client's address
                return self.get_response(request)
        finally:
            timezone.deactivate()


class HtmxLoginRedirectMiddleware:
    """An HTMX request whose session expired gets a full-page redirect to the login page,
    not the login form swapped into a fragment of the console."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "htmx", False) and response.status_code == 302:
            login = resolve_url(settings.LOGIN_URL)
            location = response.get("Location", "")
            if location.startswith(login):
                out = HttpResponse(status=204)
                out["HX-Redirect"] = location
                return out
        return response
