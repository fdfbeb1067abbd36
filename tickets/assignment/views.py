"""Settings > Assignment (Managers read, Admins change), the console's presence heartbeat and the "Absent"
toggle. Views parse, authorize, call ``services`` / ``lumiodesk.presence``, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lumiodesk import presence
from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError
from lumiodesk.models import Role

from . import selectors, services
from .models import ELIGIBLE_ROLE_CHOICES


def _state_response(request: HttpRequest) -> HttpResponse:
    state = selectors.own_state(request.membership) if request.actor.can("tickets.be_assigned") else None
    return render(
        request,
        "tickets/assignment/partials/own_state.html",
        {"state": state, "heartbeat_seconds": presence.HEARTBEAT_SECONDS},
    )


@requires("tickets.view")
@require_GET
def heartbeat(request: HttpRequest) -> HttpResponse:
    """Every console page asks it on load and every minute: the member is online (one Redis SET, no write to
    PostgreSQL); the answer is their own state in the header."""
    presence.beat(request.organization.pk, request.user.pk)
    return _state_response(request)


@requires("tickets.be_assigned")
@require_POST
def absent(request: HttpRequest) -> HttpResponse:
    """The member marks themselves Absent, or back."""
    presence.set_absent(actor=request.actor, absent=request.POST.get("absent") == "1")
    if request.htmx:
        return _state_response(request)
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return redirect(back if back and safe else "tickets:list")


@requires("assignment.view", post="assignment.manage")
@require_http_methods(["GET", "POST"])
def assignment_settings(request: HttpRequest) -> HttpResponse:
    org = request.organization
    error = ""
    if request.method == "POST":
        try:
            services.save_setting(
                actor=request.actor,
                organization=org,
                enabled=request.POST.get("enabled") == "on",
                load_limit=request.POST.get("load_limit"),
                roles=request.POST.getlist("roles"),
            )
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Assignation par disponibilité enregistrée."))
            return redirect("assignment:settings")
    setting = selectors.setting_of(org)
    now = timezone.now()
    team = selectors.team_states(org.pk, setting)
    open_now = selectors.open_now(org.pk, now)
    return render(
        request,
        "tickets/assignment/settings.html",
        {
            "setting": setting,
            "team": team,
            "open_now": open_now,
            "next_agent": selectors.first_available(team, open_now),  # the page shows whom the rule picks
            "role_choices": [(r, Role(r).label) for r in ELIGIBLE_ROLE_CHOICES],
            "error": error,
        },
        status=400 if error else 200,
    )
