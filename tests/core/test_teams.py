"""Settings > Équipes (lumiodesk.teams): the model's constraints, the services and their audit rows, who may do
what, another organization's ids, deactivated members, the page's query count."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import SYSTEM, acting, member, team_of
from helpers import assert_full_page, assert_login_redirect

from lumiodesk import team as members
from lumiodesk import teams
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog, Membership, Role, Team, TeamMember

pytestmark = pytest.mark.django_db


def _membership(world, user) -> Membership:
    return Membership.objects.get(organization=world.org, user=user)


# --- the model ----------------------------------------------------------------------------------------------


def test_a_name_is_unique_per_organization_whatever_the_case(world):
    Team.objects.create(organization=world.org, name="Facturation")
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(organization=world.org, name="FACTURATION")
    Team.objects.create(organization=world.other_org, name="facturation")  # another organization's own
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(organization=world.org, name="")


def test_a_member_is_in_a_team_once_and_may_be_in_several(world):
    one = Team.objects.create(organization=world.org, name="Niveau 1")
    two = Team.objects.create(organization=world.org, name="Facturation")
    agent = _membership(world, world.agent)
    TeamMember.objects.create(organization=world.org, team=one, membership=agent)
    TeamMember.objects.create(organization=world.org, team=two, membership=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        TeamMember.objects.create(organization=world.org, team=one, membership=agent)
    assert set(agent.teams.values_list("name", flat=True)) == {"Niveau 1", "Facturation"}


# --- the services -------------------------------------------------------------------------------------------


def test_admins_create_rename_and_delete_teams_audited(world):
    admin = acting(world.admin)
    team = teams.create_team(actor=admin, organization=world.org, name="  Niveau   1 ", description="Premier niveau")
    assert (team.name, team.description) == ("Niveau 1", "Premier niveau")
    with pytest.raises(InvalidInput, match="s'appelle déjà"):
        teams.create_team(actor=admin, organization=world.org, name="niveau 1")
    with pytest.raises(InvalidInput):
        teams.create_team(actor=admin, organization=world.org, name="   ")
    teams.create_team(actor=admin, organization=world.org, name="Facturation")
    with pytest.raises(InvalidInput, match="s'appelle déjà"):
        teams.update_team(actor=admin, organization=world.org, team_id=team.pk, name="FACTURATION")
    teams.update_team(actor=admin, organization=world.org, team_id=team.pk, name="N1", description="")
    team_of(world.org, "Technique", world.agent)
    technique = Team.objects.get(organization=world.org, name="Technique")
    assert teams.delete_team(actor=admin, organization=world.org, team_id=technique.pk) == "Technique"
    assert Membership.objects.filter(organization=world.org, user=world.agent, is_active=True).exists()
    rows = {r.action: r for r in AuditLog.objects.filter(organization=world.org, target_type="team")}
    assert set(rows) == {"team.created", "team.updated", "team.members_changed", "team.deleted"}
    assert rows["team.updated"].data["before"]["name"] == "Niveau 1" and rows["team.updated"].data["after"] == {
        "name": "N1",
        "description": "",
    }
    assert rows["team.deleted"].data == {"name": "Technique", "members": 1}
    assert AuditLog.objects.get(action="team.created", target_id=team.pk).actor_id == world.admin.pk


def test_managers_agents_and_other_organizations_may_not_change_teams(world):
    team = team_of(world.org, "Niveau 1")
    for user in (world.manager, world.agent, world.viewer):
        with pytest.raises(NotPermitted):
            teams.create_team(actor=acting(user), organization=world.org, name="X")
    with pytest.raises(NotPermitted):
        teams.delete_team(actor=acting(world.outsider), organization=world.org, team_id=team.pk)
    # An Admin of another organization names our team's id in their own: nothing found.
    other_admin = member(world.other_org, Role.ADMIN)
    with pytest.raises(InvalidInput):
        teams.delete_team(actor=acting(other_admin), organization=world.other_org, team_id=team.pk)
    assert Team.objects.filter(pk=team.pk).exists()


def test_members_are_active_members_of_the_organization_who_work_tickets(world):
    admin = acting(world.admin)
    team = team_of(world.org, "Facturation", world.agent)
    ours = {_membership(world, u).pk for u in (world.agent, world.manager)}
    teams.set_team_members(actor=admin, organization=world.org, team_id=team.pk, membership_ids=ours)
    assert {m.user_id for m in team.members.all()} == {world.agent.pk, world.manager.pk}
    row = AuditLog.objects.filter(action="team.members_changed").latest("id")
    assert row.data["added"] == [world.manager.get_full_name()] and row.data["removed"] == []
    theirs = Membership.objects.get(organization=world.other_org, user=world.outsider).pk
    for refused in (theirs, _membership(world, world.viewer).pk):  # another organization's, a Lecteur
        with pytest.raises(InvalidInput):
            teams.set_team_members(actor=admin, organization=world.org, team_id=team.pk, membership_ids=[refused])
    teams.set_team_members(actor=admin, organization=world.org, team_id=team.pk, membership_ids=[])
    assert not team.members.exists()


def test_a_deactivated_member_drops_out_and_comes_back_when_reactivated(world):
    team_of(world.org, "Niveau 1", world.agent, world.manager)
    team = Team.objects.get(organization=world.org)
    agent = _membership(world, world.agent)
    members.deactivate_member(actor=acting(world.admin), membership_id=agent.pk)
    [listed] = teams.team_list(world.org)
    assert listed.active_count == 1 and [link.membership.user_id for link in listed.active_links] == [world.manager.pk]
    assert list(teams.active_member_ids(world.org, team.pk).values_list("user_id", flat=True)) == [world.manager.pk]
    # Changing the members leaves the deactivated member's row alone...
    teams.set_team_members(
        actor=acting(world.admin),
        organization=world.org,
        team_id=team.pk,
        membership_ids=[_membership(world, world.manager).pk],
    )
    assert TeamMember.objects.filter(team=team, membership=agent).exists()
    # ... so the reactivated member is back in the team.
    members.reactivate_member(actor=acting(world.admin), membership_id=agent.pk)
    assert teams.team_list(world.org)[0].active_count == 2


# --- the pages ----------------------------------------------------------------------------------------------


def test_the_page_admins_change_managers_read_others_refused(client, world):
    team_of(world.org, "Facturation", world.agent, description="Factures et paiements")
    team_of(world.other_org, "Globex secret", world.outsider)
    url = reverse("teams")
    assert_login_redirect(client.get(url), url)
    client.force_login(world.admin)
    html = assert_full_page(client.get(url))
    assert "Facturation" in html and "Factures et paiements" in html and world.agent.get_full_name() in html
    assert "Globex secret" not in html and reverse("team_create") in html
    client.force_login(world.manager)
    html = assert_full_page(client.get(url))
    assert "Facturation" in html and reverse("team_create") not in html
    assert client.post(reverse("team_create"), {"name": "X"}).status_code == 403
    for user in (world.agent, world.viewer):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_admins_create_edit_set_members_and_delete_through_the_pages(client, world):
    client.force_login(world.admin)
    response = client.post(reverse("team_create"), {"name": "Niveau 1", "description": "Premier niveau"})
    team = Team.objects.get(organization=world.org)
    assert response.status_code == 302 and response.url == reverse("team_edit", args=[team.pk])
    html = assert_full_page(client.get(response.url))
    assert world.agent.get_full_name() in html and world.viewer.get_full_name() not in html  # Lecteurs can't be in
    response = client.post(reverse("team_create"), {"name": "NIVEAU 1"}, follow=True)
    assert "s&#x27;appelle déjà" in response.content.decode() and Team.objects.count() == 1
    client.post(reverse("team_edit", args=[team.pk]), {"name": "N1", "description": ""})
    agent = _membership(world, world.agent)
    client.post(reverse("team_members", args=[team.pk]), {"members": [str(agent.pk)]})
    assert list(Team.objects.get(pk=team.pk).members.all()) == [agent]
    assert Team.objects.get(pk=team.pk).name == "N1"
    client.post(reverse("team_delete", args=[team.pk]))
    assert not Team.objects.filter(pk=team.pk).exists()


def test_another_organizations_team_is_a_404(client, world):
    theirs = team_of(world.other_org, "Globex", world.outsider)
    client.force_login(world.admin)
    assert client.get(reverse("team_edit", args=[theirs.pk])).status_code == 404
    for name in ("team_members", "team_delete", "team_edit"):
        assert client.post(reverse(name, args=[theirs.pk]), {"name": "Pris", "members": []}).status_code == 404
    assert Team.objects.get(pk=theirs.pk).name == "Globex" and theirs.members.count() == 1


def test_the_page_runs_the_same_queries_for_2_and_20_teams(client, world):
    client.force_login(world.admin)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("teams")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(2):
        team_of(world.org, f"Équipe {i}", world.agent, world.manager)
    client.get(reverse("teams"))
    few = count()
    for i in range(2, 20):
        team_of(world.org, f"Équipe {i}", world.agent, world.manager, world.admin)
    assert count() == few
    assert len(teams.team_list(world.org)) == 20


def test_the_system_actor_may_seed_teams(world):
    team = teams.create_team(actor=SYSTEM, organization=world.org, name="Niveau 1")
    assert AuditLog.objects.get(action="team.created", target_id=team.pk).actor_id is None
