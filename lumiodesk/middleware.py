from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import Resolver404, resolve
from django.utils import timezone, translation

from . import audit, two_factor
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


class TwoFactorMiddleware:
    """A session that still owes a 2FA code (``"verify"``) reaches only the code page; one whose organization
    makes 2FA mandatory and that has no device yet (``"setup"``) only the Security page. Both may sign out,
    change language and load static files (lumiodesk.two_factor marks the session at sign-in). Costs nothing
    to other sessions: the mark is read from the session already loaded."""

    ALLOWED = {
        two_factor.VERIFY: {"two_factor_verify", "logout", "set_language", "health"},
        two_factor.SETUP: {"account_security", "two_factor_enrol", "two_factor_codes", "logout", "set_language",
                           "health"},
    }
    TARGET = {two_factor.VERIFY: "two_factor_verify", two_factor.SETUP: "account_security"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        state = two_factor.pending(request) if request.user.is_authenticated else None
        if state in self.ALLOWED and not self._allowed(request, state):
            url = resolve_url(self.TARGET[state])
            if state == two_factor.VERIFY and request.method == "GET" and not getattr(request, "htmx", False):
                url = f"{url}?{urlencode({'next': request.get_full_path()})}"
            if getattr(request, "htmx", False):
                out = HttpResponse(status=204)
                out["HX-Redirect"] = url
                return out
            return redirect(url)
        return self.get_response(request)

    def _allowed(self, request, state: str) -> bool:
        static = settings.STATIC_URL or "/static/"
        if request.path_info.startswith(static if static.startswith("/") else f"/{static}"):
            return True
        try:
            name = resolve(request.path_info).view_name  # with its namespace: "chat:settings" is not "settings"
        except Resolver404:
            return False
        return name in self.ALLOWED[state]
