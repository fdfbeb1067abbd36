from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import signin, two_factor
from .access import public, requires, signed_in, switch_organization
from .exceptions import InvalidInput


@signed_in
@require_POST
def switch_organization_view(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("organization", "")
    org = switch_organization(request, int(raw)) if raw.isdigit() else None
    if org is None:
        return HttpResponse(_("Organisation inconnue."), status=404)
    messages.success(request, _("Vous travaillez maintenant dans %(org)s.") % {"org": org.name})
    nxt = request.POST.get("next", "")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    return redirect("tickets:list")


@public
def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# --- Settings > Sign-in security: an organization's Admins unlock their members (lumiodesk.signin) -------------


@requires("members.unlock")
@require_GET
def sign_in_security(request: HttpRequest) -> HttpResponse:
    return render(request, "lumiodesk/sign_in_security.html", {
        "locked": signin.locked_members(actor=request.actor),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": round(settings.AXES_COOLOFF_TIME.total_seconds() / 60),
        "two_factor_required": request.organization.two_factor_required,
        "without_two_factor": (two_factor.members_without_two_factor(actor=request.actor)
                               if request.actor.can("security.manage") else None),
    })


@requires("members.unlock")
@require_POST
def unlock_member(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        signin.unlock_member(actor=request.actor, user_id=user_id)
    except InvalidInput as exc:  # not a member of this organization
        raise Http404(exc.message) from exc
    messages.success(request, _("Le compte est débloqué : ce membre peut se connecter à nouveau."))
    return redirect("sign_in_security")
