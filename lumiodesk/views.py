from __future__ import annotations

from django.contrib import messages
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .access import public, signed_in, switch_organization


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
