"""The notification center, the bell and each person's notification preferences.

The bell polls ``badge`` every 20 s with HTMX (paused while the tab is hidden): one indexed COUNT on
the partial index of unread notifications, a few hundred bytes back. Server push (SSE/WebSockets) would
need an ASGI server and a channel layer for a number that changes a few times an hour; polling keeps
the stack as it is and degrades to a plain link without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import notifications
from .access import requires, signed_in, switch_organization
from .models import AgentNotification


def _center_context(request: HttpRequest) -> dict:
    org = request.organization
    page = Paginator(notifications.inbox(org, request.user), 30).get_page(request.GET.get("page"))
    unread = notifications.unread_count(org, request.user)
    return {"page": page, "items": list(page.object_list), "unread": unread, "badge": _badge(unread)}


def _badge(unread: int) -> str:
    return f"{notifications.BADGE_CAP}+" if unread > notifications.BADGE_CAP else str(unread)


@requires("notifications.own")
@require_GET
def notification_center(request: HttpRequest) -> HttpResponse:
    context = _center_context(request)
    if request.htmx and request.htmx.target == "notification-list":
        return render(request, "lumiodesk/notifications.html#notification-list", context)
    return render(request, "lumiodesk/notifications.html", context)


@never_cache
@requires("notifications.own")
@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    """The bell's count (HTMX polling)."""
    unread = notifications.unread_count(request.organization, request.user)
    return render(request, "lumiodesk/partials/bell.html", {"unread": unread, "badge": _badge(unread)})


@requires("notifications.own")
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    notifications.mark_read(organization=request.organization, user=request.user)
    if request.htmx:
        context = _center_context(request)
        html = render_to_string("lumiodesk/notifications.html#notification-list", context, request=request)
        html += render_to_string("lumiodesk/partials/bell.html", {**context, "oob": True}, request=request)
        return HttpResponse(html)
    return redirect("notifications:center")


@signed_in  # in any of the user's organizations: it switches to the notification's one
@require_GET
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to what it is about, in its organization (email links land here)."""
    n = AgentNotification.objects.filter(pk=pk, recipient=request.user).first()
    if n is None:
        raise Http404("notification")
    elsewhere = request.organization is None or request.organization.pk != n.organization_id
    if elsewhere and switch_organization(request, n.organization_id) is None:
        raise Http404("notification")  # no longer a member there
    notifications.mark_read(organization=n.organization, user=request.user, ids=[n.pk])
    target = n.url if n.url and url_has_allowed_host_and_scheme(n.url, allowed_hosts={request.get_host()}) else ""
    return redirect(target or "notifications:center")


@requires("notifications.own")
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    if request.method == "POST":
        choices = {
            kind: (request.POST.get(f"{kind}_in_app") == "on", request.POST.get(f"{kind}_email") == "on")
            for kind in notifications.kinds_for(membership)
        }
        notifications.save_preferences(membership=membership, choices=choices)
        messages.success(request, _("Préférences de notification enregistrées."))
        return redirect("notifications:preferences")
    return render(request, "lumiodesk/notification_preferences.html",
                  {"preferences": notifications.preferences_for(membership)})
