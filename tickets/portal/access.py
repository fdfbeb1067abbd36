"""Who the portal's visitor is: a customer of one organization, signed in by a one-time link.

Separate from the agents' authentication: the session holds ``{organization id: customer id}``
under its own key, so signing in or out of the portal never touches an agent's login, and a
customer signed in at one organization is nobody at another.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation

from crm.models import Customer
from lumiodesk.models import Organization

from . import selectors

SESSION_KEY = "lumiodesk_portal"


def organization_or_404(slug: str) -> Organization:
    org = selectors.public_organization(slug)
    if org is None:
        raise Http404("organization")
    return org


def activate_for(request: HttpRequest, organization: Organization) -> None:
    """Customer pages speak the organization's language (unless the visitor picked one) and show its time."""
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        translation.activate(organization.language)
        request.LANGUAGE_CODE = translation.get_language()
    timezone.activate(zoneinfo.ZoneInfo(organization.time_zone))


def signed_in_customer(request: HttpRequest, organization: Organization) -> Customer | None:
    customer_id = request.session.get(SESSION_KEY, {}).get(str(organization.pk))
    return selectors.customer_in(organization, customer_id)


def sign_in(request: HttpRequest, customer: Customer) -> None:
    """A new session key (no fixation), the agent's login (if any) kept."""
    request.session.cycle_key()
    portal = dict(request.session.get(SESSION_KEY, {}))
    portal[str(customer.organization_id)] = customer.pk
    request.session[SESSION_KEY] = portal


def sign_out(request: HttpRequest, organization: Organization) -> None:
    portal = dict(request.session.get(SESSION_KEY, {}))
    portal.pop(str(organization.pk), None)
    request.session[SESSION_KEY] = portal
    request.session.cycle_key()


def public_page(view: Callable) -> Callable:
    """A page of the organization's public side: 404 for an unknown organization, its language and time zone."""

    @wraps(view)
    def wrapper(request: HttpRequest, org: str, *args, **kwargs) -> HttpResponse:
        organization = organization_or_404(org)
        activate_for(request, organization)
        return view(request, organization, *args, **kwargs)

    return wrapper


def customer_required(view: Callable) -> Callable:
    """A portal page: the signed-in customer of this organization, else the sign-in page (and back)."""

    @wraps(view)
    def wrapper(request: HttpRequest, org: str, *args, **kwargs) -> HttpResponse:
        organization = organization_or_404(org)
        activate_for(request, organization)
        customer = signed_in_customer(request, organization)
        if customer is None:
            login = reverse("portal:sign_in_request", args=[organization.slug])
            if request.method == "GET":
                login += "?" + urlencode({"next": request.get_full_path()})
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = login
                return response
            return redirect(login)
        customer.organization = organization
        request.portal_customer = customer
        return view(request, organization, customer, *args, **kwargs)

    return wrapper


# --- emailed links: the token leaves the URL on first use -----------------------------------------------------

_KEPT_PER_ORGANIZATION = 10


def keep_link_token(request: HttpRequest, session_key: str, organization: Organization, key, token: str) -> None:
    """Keep an emailed link's token in the session (server side) under ``key`` (e.g. a ticket number), so
    the view can redirect to a URL without it: the token then appears in no later request line, page,
    form action or Referer. The latest few per organization are kept (two links open in two tabs work)."""
    kept = dict(request.session.get(session_key, {}))
    mine = {k: v for k, v in kept.get(str(organization.pk), {}).items() if k != str(key)}
    mine[str(key)] = token
    kept[str(organization.pk)] = dict(list(mine.items())[-_KEPT_PER_ORGANIZATION:])
    request.session[session_key] = kept


def kept_link_token(request: HttpRequest, session_key: str, organization: Organization, key) -> str:
    return request.session.get(session_key, {}).get(str(organization.pk), {}).get(str(key), "")
