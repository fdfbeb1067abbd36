"""Settings > Team, Settings > Organization and the audit log (the organization's Admins; Managers read the team
and the audit log). Every change goes through ``lumiodesk.team`` / ``lumiodesk.organizations``."""

from __future__ import annotations

import zoneinfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import audit, organizations, plans, team, two_factor
from .access import requires
from .exceptions import InvalidInput
from .forms import AuditFilterForm, InviteForm, OrganizationForm
from .models import AuditLog, Membership, Role, user_display_name

AUDIT_PER_PAGE = 50


def _back_to_team(request, **kwargs) -> str:
    return reverse("team")


def _member_or_404(request: HttpRequest, pk: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(organization=request.organization, pk=pk).first()
    if membership is None:
        raise Http404(_("Membre introuvable."))
    return membership


# --- Settings > Team ----------------------------------------------------------------------------------------


@requires("team.view")
@require_GET
def team_page(request: HttpRequest) -> HttpResponse:
    org = request.organization
    people = team.members(org)
    return render(request, "lumiodesk/team.html", {
        "members": people,
        "invitations": team.pending_invitations(org),
        "invite_form": InviteForm(),
        "roles": Role.choices,
        "seats_used": team.seats_used(org),
        "seats_included": plans.limit_of(org, "agents_included"),
        "active_admins": sum(1 for m in people if m.is_active and m.role == Role.ADMIN),
        "with_two_factor": two_factor.users_with_two_factor(m.user_id for m in people),
    })


@requires("team.manage", back=_back_to_team)
@require_POST
def team_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Indiquez une adresse email valide et un rôle."))
        return redirect("team")
    invitation = team.invite(actor=request.actor, email=form.cleaned_data["email"], role=form.cleaned_data["role"])
    messages.success(request, _("Invitation envoyée à %(email)s (valable 7 jours).") % {"email": invitation.email})
    return redirect("team")


@requires("team.manage", back=_back_to_team)
@require_POST
def invitation_resend(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invitation = team.resend_invitation(actor=request.actor, invitation_id=pk)
    except InvalidInput as exc:
        raise Http404(exc.message) from exc
    messages.success(request, _("Nouvelle invitation envoyée à %(email)s ; l'ancien lien ne fonctionne plus.")
                     % {"email": invitation.email})
    return redirect("team")


@requires("team.manage", back=_back_to_team)
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invitation = team.revoke_invitation(actor=request.actor, invitation_id=pk)
    except InvalidInput as exc:
        raise Http404(exc.message) from exc
    messages.success(request, _("Invitation de %(email)s révoquée.") % {"email": invitation.email})
    return redirect("team")


@requires("team.manage", back=_back_to_team)
@require_POST
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _member_or_404(request, pk)
    membership = team.change_role(actor=request.actor, membership_id=membership.pk, role=request.POST.get("role", ""))
    messages.success(request, _("%(name)s est maintenant %(role)s.") % {
        "name": user_display_name(membership.user), "role": membership.get_role_display()})
    return redirect("team")


@requires("team.manage", back=_back_to_team)
@require_http_methods(["GET", "POST"])
def member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation, with the choice of who takes the open tickets; POST: deactivate."""
    membership = _member_or_404(request, pk)
    candidates = list(team.reassignment_candidates(organization=request.organization, member_id=membership.pk))
    if request.method == "POST":
        raw = request.POST.get("reassign_to", "")
        moved = team.deactivate_member(actor=request.actor, membership_id=membership.pk,
                                       reassign_to_id=int(raw) if raw.isdigit() else None)
        messages.success(request, _("%(name)s est désactivé ; %(n)s ticket(s) ouvert(s) réassigné(s).") % {
            "name": user_display_name(membership.user), "n": moved})
        return redirect("team")
    return render(request, "lumiodesk/member_deactivate.html", {"member": membership, "candidates": candidates})


@requires("team.manage", back=_back_to_team)
@require_POST
def member_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _member_or_404(request, pk)
    team.reactivate_member(actor=request.actor, membership_id=membership.pk)
    messages.success(request, _("%(name)s est réactivé.") % {
        "name": user_display_name(membership.user)})
    return redirect("team")


# --- Settings > Organization --------------------------------------------------------------------------------


def _organization_page(request: HttpRequest, form: OrganizationForm, status: int = 200) -> HttpResponse:
    return render(request, "lumiodesk/organization_settings.html", {"form": form}, status=status)


def _organization_refused(request: HttpRequest, exc) -> HttpResponse:
    return _organization_page(request, OrganizationForm(request.POST, instance=request.organization), status=400)


@requires("organization.manage", on_refusal=_organization_refused)
@require_http_methods(["GET", "POST"])
def organization_settings(request: HttpRequest) -> HttpResponse:
    org = request.organization
    if request.method == "POST":
        form = OrganizationForm(request.POST, request.FILES, instance=org)
        if form.is_valid():
            d = form.cleaned_data
            organizations.update_organization(
                actor=request.actor,
                values=organizations.OrganizationSettings(**{f: d[f] for f in organizations.SETTING_FIELDS}),
                logo=d.get("logo_file"), remove_logo=d.get("remove_logo", False),
            )
            messages.success(request, _("Réglages de l'organisation enregistrés."))
            return redirect("organization_settings")
        return _organization_page(request, form, status=400)
    return _organization_page(request, OrganizationForm(instance=org))


@requires("organization.manage")
@require_GET
def organization_logo(request: HttpRequest) -> HttpResponse:
    logo = request.organization.logo
    if not logo:
        raise Http404(_("Aucun logo."))
    response = FileResponse(logo.open("rb"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def _entry(row: AuditLog) -> dict:
    data = row.data if isinstance(row.data, dict) else {}
    return {
        "row": row, "label": audit.label_of(row.action), "ip": row.ip_address or data.get("ip_address") or "",
        "before": data.get("before") if isinstance(data.get("before"), dict) else {},
        "after": data.get("after") if isinstance(data.get("after"), dict) else {},
        "details": [(k, v) for k, v in data.items() if k not in ("before", "after", "ip_address")],
    }


# --- the audit log ------------------------------------------------------------------------------------------


@requires("audit.view")
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    org = request.organization
    actions = sorted(
        ((a, audit.label_of(a)) for a in
         AuditLog.objects.filter(organization=org).order_by().values_list("action", flat=True).distinct()),
        key=lambda pair: pair[1].lower(),
    )
    actors = [(m.user_id, user_display_name(m.user))
              for m in Membership.objects.filter(organization=org).select_related("user").order_by("user__email")]
    form = AuditFilterForm(request.GET or None, actions=actions, actors=actors)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = audit.entries(org, action=filters.get("action") or "", actor_id=filters.get("actor"),
                         start=filters.get("start"), end=filters.get("end"), q=filters.get("q") or "",
                         tz=zoneinfo.ZoneInfo(org.time_zone))
    page = Paginator(rows, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "lumiodesk/audit_log.html", {
        "form": form, "page": page, "query": query.urlencode(),
        "entries": [_entry(row) for row in page.object_list],
    })
