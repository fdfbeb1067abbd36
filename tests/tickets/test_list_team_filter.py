"""The ticket list's ``team`` filter: the tickets assigned to the team's active members (lumiodesk.teams)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import TicketFactory, acting, bulk_tickets, member, team_of
from helpers import assert_full_page, assert_partial, htmx

from lumiodesk import team as members
from lumiodesk.models import Membership, Role
from tickets import selectors, services

pytestmark = pytest.mark.django_db

URL = reverse("tickets:list")


@pytest.fixture
def assigned(world):
    """Agathe's ticket, Marc's ticket, an unassigned one; "Niveau 1" = Agathe, "Facturation" = Agathe and Marc."""
    agathe = TicketFactory(organization=world.org, subject="Ticket Agathe", assignee=world.agent)
    marc = TicketFactory(organization=world.org, subject="Ticket Marc", assignee=world.manager)
    n1 = team_of(world.org, "Niveau 1", world.agent)
    billing = team_of(world.org, "Facturation", world.agent, world.manager)
    return world, n1, billing, agathe, marc


def listed(world, **params) -> set[str]:
    f = selectors.TicketFilters.from_params(params)
    return {t.subject for t in selectors.ticket_list(world.org, f, user=world.admin)}


def test_the_filter_lists_the_tickets_of_the_teams_active_members(assigned):
    world, n1, billing, _agathe, _marc = assigned
    assert listed(world, team=str(n1.pk)) == {"Ticket Agathe"}
    assert listed(world, team=str(billing.pk)) == {"Ticket Agathe", "Ticket Marc"}
    assert listed(world, team=str(billing.pk), assignee=str(world.manager.pk)) == {"Ticket Marc"}
    # Marc deactivated (his open ticket left unassigned by the deactivation): his tickets leave the team's.
    services.assign(ticket=_marc, assignee=world.manager, actor=acting(world.admin))
    members.deactivate_member(
        actor=acting(world.admin), membership_id=Membership.objects.get(organization=world.org, user=world.manager).pk
    )
    assert listed(world, team=str(billing.pk)) == {"Ticket Agathe"}


def test_another_organizations_team_or_a_bad_id_lists_nothing_or_is_ignored(assigned):
    world, *_ = assigned
    # Agathe, who has a ticket here, is also a member of Globex's team: their team must not reach our tickets.
    Membership.objects.create(organization=world.other_org, user=world.agent, role=Role.AGENT)
    theirs = team_of(world.other_org, "Globex", world.outsider, world.agent)
    TicketFactory(organization=world.other_org, assignee=world.outsider)
    assert listed(world, team=str(theirs.pk)) == set()
    everything = listed(world)
    for bad in ("x", "²", "-1", "9" * 30):
        f = selectors.TicketFilters.from_params({"team": bad})
        assert f.team == "" and listed(world, team=bad) == everything


def test_the_page_offers_the_teams_and_keeps_the_filter(client, assigned):
    world, n1, billing, *_ = assigned
    client.force_login(world.agent)
    html = assert_full_page(client.get(URL, {"team": billing.pk}))
    assert 'name="team"' in html and f'<option value="{billing.pk}" selected>Facturation</option>' in html
    assert "Ticket Marc" in html and "Facture en double" not in html  # the world's ticket is unassigned
    html = assert_partial(client.get(URL, {"team": n1.pk}, **htmx("ticket-list")))
    assert "Ticket Agathe" in html and "Ticket Marc" not in html
    assert services.save_view(
        organization=world.org, name="Niveau 1", filters={"team": str(n1.pk)}, actor=acting(world.manager)
    ).filters == {"team": str(n1.pk)}


def test_the_filtered_page_runs_the_same_queries_for_10_and_100_tickets_and_teams(client, world):
    people = [member(world.org, Role.AGENT) for _ in range(3)]
    team = team_of(world.org, "Niveau 1", *people)
    client.force_login(world.agent)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL, {"team": team.pk}).status_code == 200
        return len(ctx.captured_queries)

    bulk_tickets(world.org, 10, assignee=people[0])
    client.get(URL, {"team": team.pk})  # warm the session and one-off lookups
    ten = count()
    bulk_tickets(world.org, 90, assignee=people[1])
    for i in range(10):
        team_of(world.org, f"Équipe {i}", *people[: i % 3 + 1])
    assert count() == ten
