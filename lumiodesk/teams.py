"""Settings > Équipes: teams of members ("Niveau 1", "Facturation"), like Zendesk's or Zammad's groups, kept simple.

Not Settings > Membres (``lumiodesk.team``: everyone in the organization, roles, invitations). A team is a name
(unique in the organization whatever the case), a description and members; a member may be in several teams.

Contract:
- Every change takes an actor and ``require(actor, "teams.manage", organization)`` (Admins; Managers read the
  page with ``teams.view``), runs in one transaction and writes its audit row there.
- A team and its members belong to one organization: a membership of another organization is refused, and
  every read is scoped by ``organization``.
- Only active memberships count. A deactivated member keeps their team rows (reactivated, they are back in
  their teams) but is left out of every count, list filter and figure (``active_member_ids``); changing a
  team's members never touches the rows of deactivated members.
- Members are chosen among the active members who may be assigned tickets (``tickets.be_assigned``).
- What a team's figures are (the tickets assigned to its active members) is read with ``MEMBERS_SQL``: the
  ticket list's ``team`` filter and the dashboard's per-team table use the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from . import audit
from .exceptions import InvalidInput
from .models import Membership, Organization, Team, TeamMember, user_display_name
from .permissions import Actor, members_with, require

NAME_MAX = 80
DESCRIPTION_MAX = 300

# The active members' user ids of the organization's teams (alias ``tm``: team_id, user_id), for SQL that
# groups by team (sla.dashboard) or filters by one (``AND l.team_id = %(team)s``). Parameter: %(org)s.
MEMBERS_SQL = """
SELECT l.team_id, m.user_id
FROM lumiodesk_teammember l JOIN lumiodesk_membership m ON m.id = l.membership_id
WHERE l.organization_id = %(org)s AND m.organization_id = %(org)s AND m.is_active
"""


# --- reading -------------------------------------------------------------------------------------------------


def teams_of(organization: Organization) -> list[Team]:
    """The organization's teams by name (the filters' choices): id and name only."""
    return list(Team.objects.filter(organization=organization).only("id", "name").order_by(Lower("name"), "id"))


def team_list(organization: Organization) -> list[Team]:
    """Settings > Équipes: each team with ``active_count`` and its active members (``active_links``), in
    three queries whatever the number of teams and members."""
    active = (
        TeamMember.objects.filter(organization=organization, membership__is_active=True)
        .select_related("membership__user")
        .order_by("membership__user__first_name", "membership__user__last_name", "membership__user__email")
    )
    return list(
        Team.objects.filter(organization=organization)
        .annotate(active_count=Count("links", filter=Q(links__membership__is_active=True)))
        .prefetch_related(Prefetch("links", queryset=active, to_attr="active_links"))
        .order_by(Lower("name"), "id")
    )


def get_team(organization: Organization, team_id: int) -> Team | None:
    return Team.objects.filter(organization=organization, pk=team_id).first()


def assignable_members(organization: Organization) -> list[Membership]:
    """Who may be put in a team: the active members who may be assigned tickets, by name."""
    return list(
        members_with("tickets.be_assigned", organization=organization)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__email", "id")
    )


@dataclass(frozen=True)
class TeamMembers:
    """A team's edit page: who may be ticked (``candidates``), who is (``checked``, membership ids), the
    deactivated members it keeps (counted nowhere, back if reactivated) and the active ones no longer
    assignable (now a Lecteur: saving the members takes them out)."""

    candidates: list[Membership]
    checked: set[int]
    inactive: list[Membership]
    others: list[Membership]


def team_members(organization: Organization, team: Team) -> TeamMembers:
    links = list(team.links.select_related("membership__user").order_by("membership__user__first_name", "id"))
    candidates = assignable_members(organization)
    candidate_ids = {m.pk for m in candidates}
    return TeamMembers(
        candidates=candidates,
        checked={link.membership_id for link in links},
        inactive=[link.membership for link in links if not link.membership.is_active],
        others=[link.membership for link in links
                if link.membership.is_active and link.membership_id not in candidate_ids],
    )


def active_member_ids(organization: Organization, team_id: int) -> QuerySet:
    """The user ids of the team's active members, as a subquery (the ticket list's ``team`` filter). Another
    organization's team id matches nobody."""
    return Membership.objects.filter(
        organization=organization,
        is_active=True,
        team_links__team_id=team_id,
        team_links__organization=organization,
    ).values("user_id")


# --- changes ---------------------------------------------------------------------------------------------


def _clean(name: str, description: str) -> tuple[str, str]:
    name = " ".join((name or "").split())
    description = (description or "").strip()
    if not name:
        raise InvalidInput(_("Donnez un nom à l'équipe."))
    if len(name) > NAME_MAX:
        raise InvalidInput(_("Le nom d'une équipe tient en %(n)s caractères.") % {"n": NAME_MAX})
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(_("La description tient en %(n)s caractères.") % {"n": DESCRIPTION_MAX})
    return name, description


def _check_name_free(organization: Organization, name: str, *, exclude: int | None = None) -> None:
    taken = Team.objects.filter(organization=organization, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise InvalidInput(_("Une équipe s'appelle déjà « %(name)s ».") % {"name": name})


def _locked(organization: Organization, team_id: int) -> Team:
    team = Team.objects.select_for_update().filter(organization=organization, pk=team_id).first()
    if team is None:
        raise InvalidInput(_("Cette équipe n'existe plus."))
    return team


def _save_unique(team: Team, **save) -> None:
    """Save in a savepoint: two Admins naming two teams alike at the same moment get the message, not a 500."""
    try:
        with transaction.atomic():
            team.save(**save)
    except IntegrityError:
        raise InvalidInput(_("Une équipe s'appelle déjà « %(name)s ».") % {"name": team.name}) from None


@transaction.atomic
def create_team(*, actor: Actor, organization: Organization, name: str, description: str = "") -> Team:
    require(actor, "teams.manage", organization)
    name, description = _clean(name, description)
    _check_name_free(organization, name)
    team = Team(organization=organization, name=name, description=description)
    _save_unique(team)
    audit.record(
        organization=organization,
        actor=actor.user,
        action="team.created",
        target_type="team",
        target_id=team.pk,
        name=name,
    )
    return team


@transaction.atomic
def update_team(*, actor: Actor, organization: Organization, team_id: int, name: str, description: str = "") -> Team:
    """Rename a team or change its description."""
    require(actor, "teams.manage", organization)
    name, description = _clean(name, description)
    team = _locked(organization, team_id)
    if (team.name, team.description) == (name, description):
        return team
    _check_name_free(organization, name, exclude=team.pk)
    before = {"name": team.name, "description": team.description}
    team.name, team.description = name, description
    _save_unique(team, update_fields=["name", "description"])
    audit.record(
        organization=organization,
        actor=actor.user,
        action="team.updated",
        target_type="team",
        target_id=team.pk,
        before=before,
        after={"name": name, "description": description},
    )
    return team


@transaction.atomic
def delete_team(*, actor: Actor, organization: Organization, team_id: int) -> str:
    """Delete a team (its members stay members of the organization); returns its name."""
    require(actor, "teams.manage", organization)
    team = _locked(organization, team_id)
    members = TeamMember.objects.filter(organization=organization, team=team).count()
    name = team.name
    team.delete()
    audit.record(
        organization=organization,
        actor=actor.user,
        action="team.deleted",
        target_type="team",
        target_id=team_id,
        name=name,
        members=members,
    )
    return name


@transaction.atomic
def set_team_members(*, actor: Actor, organization: Organization, team_id: int, membership_ids: Iterable[int]) -> Team:
    """Make the team's active members exactly ``membership_ids`` (active members who may be assigned tickets);
    deactivated members' rows are kept as they are."""
    require(actor, "teams.manage", organization)
    team = _locked(organization, team_id)
    wanted = set(membership_ids)
    chosen = {
        m.pk: m
        for m in members_with("tickets.be_assigned", organization=organization, pk__in=wanted).select_related("user")
    }
    if len(chosen) != len(wanted):
        raise InvalidInput(_("Choisissez des membres actifs de l'organisation qui peuvent recevoir des tickets."))
    current = {
        link.membership_id: link.membership
        for link in TeamMember.objects.filter(
            organization=organization, team=team, membership__is_active=True
        ).select_related("membership__user")
    }
    added = [chosen[pk] for pk in sorted(wanted - current.keys())]
    removed = [current[pk] for pk in sorted(current.keys() - wanted)]
    if not added and not removed:
        return team
    TeamMember.objects.filter(organization=organization, team=team, membership_id__in=[m.pk for m in removed]).delete()
    TeamMember.objects.bulk_create(
        [TeamMember(organization=organization, team=team, membership=m) for m in added], ignore_conflicts=True
    )
    audit.record(
        organization=organization,
        actor=actor.user,
        action="team.members_changed",
        target_type="team",
        target_id=team.pk,
        team=team.name,
        added=[user_display_name(m.user) for m in added],
        removed=[user_display_name(m.user) for m in removed],
    )
    return team
