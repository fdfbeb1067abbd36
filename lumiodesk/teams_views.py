"""Settings > Équipes (Admins change them; Managers read): the teams of members, their members. Every change goes
through ``lumiodesk.teams``; every URL with an id loads the team within ``request.organization`` (another
organization's id is a 404)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import teams
from .access import requires
from .forms import TeamForm
from .models import Team


def _back_to_teams(request, **kwargs) -> str:
    return reverse("teams")


def _back_to_team(request, pk: int, **kwargs) -> str:
    return reverse("team_edit", args=[pk])


def _team_or_404(request: HttpRequest, pk: int) -> Team:
    team = teams.get_team(request.organization, pk)
    if team is None:
        raise Http404(_("Équipe introuvable."))
    return team


@requires("teams.view")
@require_GET
def teams_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "lumiodesk/teams.html",
        {
            "teams": teams.team_list(request.organization),
            "form": TeamForm(),
        },
    )


@requires("teams.manage", back=_back_to_teams)
@require_POST
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Donnez un nom à l'équipe (%(n)s caractères au plus).") % {"n": teams.NAME_MAX})
        return redirect("teams")
    team = teams.create_team(
        actor=request.actor,
        organization=request.organization,
        name=form.cleaned_data["name"],
        description=form.cleaned_data["description"],
    )
    messages.success(request, _("Équipe « %(name)s » créée : choisissez ses membres.") % {"name": team.name})
    return redirect("team_edit", pk=team.pk)


@requires("teams.manage", back=_back_to_team)
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the team's name, description and members; POST: rename it or change its description."""
    team = _team_or_404(request, pk)
    if request.method == "POST":
        form = TeamForm(request.POST)
        if form.is_valid():
            teams.update_team(
                actor=request.actor,
                organization=request.organization,
                team_id=team.pk,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
            messages.success(request, _("Équipe enregistrée."))
            return redirect("team_edit", pk=team.pk)
        messages.error(request, _("Donnez un nom à l'équipe (%(n)s caractères au plus).") % {"n": teams.NAME_MAX})
        return redirect("team_edit", pk=team.pk)
    members = teams.team_members(request.organization, team)
    return render(
        request,
        "lumiodesk/team_edit.html",
        {
            "team": team,
            "form": TeamForm(initial={"name": team.name, "description": team.description}),
            "candidates": members.candidates,
            "checked": members.checked,
            "inactive": members.inactive,
            "others": members.others,
        },
    )


@requires("teams.manage", back=_back_to_team)
@require_POST
def team_members(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team_or_404(request, pk)
    ids = [int(v) for v in request.POST.getlist("members") if v.isdecimal() and len(v) < 12]
    teams.set_team_members(actor=request.actor, organization=request.organization, team_id=team.pk, membership_ids=ids)
    messages.success(request, _("Membres de l'équipe « %(name)s » enregistrés.") % {"name": team.name})
    return redirect("team_edit", pk=team.pk)


@requires("teams.manage", back=_back_to_team)
@require_POST
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team_or_404(request, pk)
    name = teams.delete_team(actor=request.actor, organization=request.organization, team_id=team.pk)
    messages.success(
        request, _("Équipe « %(name)s » supprimée ; ses membres restent membres de l'organisation.") % {"name": name}
    )
    return redirect("teams")
