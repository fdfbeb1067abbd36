"""Access for console views: the current organization, the actor, and the one place where a view's
capability is checked and domain errors become responses.

Every console view is wrapped in ``@requires("capability")`` (``lumiodesk.permissions`` holds the table):
- anonymous: redirect to the login page; signed in without an organization: 403;
- a role without the capability: 403 (an HTMX request gets the message in the flash area);
- the view runs with ``request.actor`` (a ``MemberActor``); a service's ``NotPermitted`` is a 403,
  any other ``DomainError`` its status: for HTMX, the message in ``#flash``; otherwise a flash message
  and a redirect (``back``), unless the screen gives its own ``on_refusal`` (its section re-rendered).
- an object of another organization is a 404: the access helpers (``get_ticket_for``…) load objects
  only within ``request.organization``.
Public URLs (help center, widget, portal, contact form, health) are marked ``@public`` instead, and the
two that only need a login in any organization (switching organization, opening a notification)
``@signed_in``.
``tests/test_permissions.py`` walks every URL and checks each is declared one way or the other.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.defaults import permission_denied

from .exceptions import DomainError, NotPermitted
from .models import Membership, Organization
from .permissions import refuse_if_read_only, roles_with

SESSION_KEY = "lumiodesk_org_id"
# A session opened by an organization's SAML IdP (lumiodesk.sso) sees that organization only.
SSO_SCOPE_KEY = "lumiodesk_sso_org_id"


def memberships_for(user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .select_related("organization")
        .order_by("created_at", "id")  # the first organization joined is the default one
    )


def switch_organization(request: HttpRequest, organization_id: int) -> Organization | None:
    scope = request.session.get(SSO_SCOPE_KEY)
    for m in memberships_for(request.user):
        if scope is not None and m.organization_id != scope:
            continue
        if m.organization_id == organization_id:
            request.session[SESSION_KEY] = m.organization_id
            return m.organization
    return None


# --- the one place where views are authorized and domain errors become responses ----------------------


def flash_response(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """HTMX: the message alone, swapped into the page's flash area."""
    html = render_to_string("partials/flash.html", {"error": message}, request=request)
    response = HttpResponse(html, status=status)
    response["HX-Retarget"] = "#flash"
    response["HX-Reswap"] = "innerHTML"
    return response


def _forbidden(request: HttpRequest, exc: NotPermitted) -> HttpResponse:
    if getattr(request, "htmx", False):
        return flash_response(request, exc.message, 403)
    return permission_denied(request, DjangoPermissionDenied(exc.message))


def _referer(request: HttpRequest) -> str | None:
    url = request.META.get("HTTP_REFERER", "")
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return None


def refusal_response(
    request: HttpRequest, exc: DomainError, *, back: Callable[..., str] | None = None,
    on_refusal: Callable[..., HttpResponse] | None = None, kwargs: dict | None = None,
) -> HttpResponse:
    kwargs = kwargs or {}
    if isinstance(exc, NotPermitted):
        return _forbidden(request, exc)
    if on_refusal is not None:
        messages.error(request, exc.message)
        return on_refusal(request, exc, **kwargs)
    if getattr(request, "htmx", False):
        return flash_response(request, exc.message, exc.status_code)
    messages.error(request, exc.message)
    target = back(request, **kwargs) if back is not None else None
    return redirect(target or _referer(request) or "tickets:list")


def requires(
    capability: str, *, post: str | None = None, back: Callable[..., str] | None = None,
    on_refusal: Callable[..., HttpResponse] | None = None,
):
    """Declare and enforce a console view's capability (``post``: a further one to POST).

    ``back(request, **url_kwargs)``: where a refused plain POST goes back to (default: the referring
    page). ``on_refusal(request, exc, **url_kwargs)``: the screen's own answer to a refused action
    (called after the message is queued for the flash area).
    """
    roles_with(capability)  # unknown capability: fail at import, not at request time
    if post is not None:
        roles_with(post)

    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            actor = getattr(request, "actor", None)
            try:
                if actor is None:  # signed in, but a member of no organization (or all deactivated)
                    raise NotPermitted(_("Vous n'êtes membre d'aucune organisation."))
                if not actor.can(capability) or (post and request.method == "POST" and not actor.can(post)):
                    raise NotPermitted(_("Votre rôle ne permet pas cette action."))
                if request.method not in ("GET", "HEAD", "OPTIONS"):  # a read-only organization is still read
                    refuse_if_read_only(actor, post or capability)
                return view(request, *args, **kwargs)
            except DomainError as exc:
                return refusal_response(request, exc, back=back, on_refusal=on_refusal, kwargs=kwargs)

        wrapper.capability = capability
        wrapper.post_capability = post
        return wrapper

    return decorate


def signed_in(view):
    """Declare a console URL open to any signed-in user whatever the organization (switching organization,
    opening a notification of another organization): login only, no capability."""
    wrapped = login_required(view)
    wrapped.signed_in = True
    return wrapped


def public(view):
    """Declare a URL open without a console login (help center, widget, portal, login…): the test of every
    URL (tests/test_permissions.py) requires each view to be ``@requires`` or ``@public``."""
    view.public = True
    return view
