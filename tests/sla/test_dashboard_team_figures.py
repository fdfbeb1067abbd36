"""The dashboard's per-team table and team filter, computed by hand on the history of test_dashboard_figures.py.

Teams of Acme: "Niveau 1" = Agathe; "Facturation" = Agathe and Marc (an agent in two teams counts in both);
"Vide" = nobody. Reminder of the period's tickets (10-23 March 2025; the table is in test_dashboard_figures.py):

| ticket | assignee | first reply (business) | resolved after (business) | rating |
| T1     | Agathe   | 1 h (met)              | 3 h (met)                 | 5      |
| T2     | Agathe   | 3 h (breached)         | 6 h (met)                 | 3      |
| T3     | Marc     | 1 h (breached: urgent) | 6 h (breached)            | 4      |
| T4     | Agathe   | 1 h (met)              | open                      |        |
| T7     | Agathe   | 9 h 30 (breached)      | 10 h (met)                |        |
T0 and T5 are unassigned; T6 was created before the period. First contact: T1, T3, T7 (T2's customer wrote again).
"""

import shutil
import subprocess
from datetime import date

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import acting, bulk_tickets, member, team_of
from helpers import assert_full_page
from test_dashboard_figures import NOW, PERIOD, history, history_ticket_ids  # noqa: F401 (the fixtures)

from lumiodesk import team as members
from lumiodesk.models import Membership, Role
from sla.dashboard import figures, reports, team_figures
from sla.dashboard.figures import DashboardFilters
from tickets import selectors

pytestmark = pytest.mark.django_db

H = 3600
PDFTOTEXT = shutil.which("pdftotext") or "pdftotext"


@pytest.fixture
def with_teams(history):  # noqa: F811 (the fixture imported above)
    world, t = history
    team_of(world.org, "Niveau 1", world.agent)
    team_of(world.org, "Facturation", world.agent, world.manager, description="Factures")
    team_of(world.org, "Vide")
    team_of(world.other_org, "Globex", world.outsider)
    return world, t


def rows(world, f=PERIOD) -> dict[str, dict]:
    return {r["name"]: r for r in team_figures.compute(world.org, f, time_zone="Europe/Paris")}


def test_per_team_figures_by_hand(with_teams):
    world, _t = with_teams
    teams = rows(world)
    assert list(teams) == ["Facturation", "Niveau 1", "Vide"]  # by name; Globex's team is not ours

    n1 = teams["Niveau 1"]  # Agathe: T1, T2, T4, T7
    assert (n1["members"], n1["created"], n1["resolved"], n1["open"]) == (1, 4, 3, 1)
    first = n1["first_response"]  # 1 h, 3 h, 1 h, 9 h 30
    assert (first["measured"], first["met"], first["breached"], first["compliance"]) == (4, 2, 2, 50.0)
    assert first["average"] == round(14.5 * H / 4) and first["median"] == 2 * H  # (1 h + 3 h) / 2
    resolution = n1["resolution"]  # 3 h, 6 h, 10 h
    assert (resolution["measured"], resolution["average"], resolution["median"]) == (3, round(19 * H / 3), 6 * H)
    assert resolution["compliance"] == 100.0
    assert n1["first_contact_rate"] == 66.7  # T1, T7 of T1, T2, T7
    assert n1["csat"] == {"n": 2, "average": 4.0}  # 5 and 3

    fact = teams["Facturation"]  # Agathe and Marc: T1, T2, T3, T4, T7
    assert (fact["members"], fact["created"], fact["resolved"], fact["open"]) == (2, 5, 4, 1)
    first = fact["first_response"]  # 1 h, 3 h, 1 h, 1 h, 9 h 30
    assert (first["measured"], first["met"], first["breached"], first["compliance"]) == (5, 2, 3, 40.0)
    assert first["average"] == round(15.5 * H / 5) and first["median"] == 1 * H
    resolution = fact["resolution"]  # 3 h, 6 h, 6 h, 10 h; T3 (urgent, 4 h) breached
    assert (resolution["met"], resolution["breached"], resolution["average"], resolution["median"]) == (
        3,
        1,
        round(25 * H / 4),
        6 * H,
    )
    assert fact["first_contact_rate"] == 75.0  # T1, T3, T7 of T1, T2, T3, T7
    assert fact["csat"] == {"n": 3, "average": 4.0}  # 5, 3, 4

    empty = teams["Vide"]
    assert (empty["members"], empty["created"], empty["first_response"]["measured"]) == (0, 0, 0)
    assert empty["csat"] == {"n": 0, "average": None} and empty["first_contact_rate"] is None


def test_a_deactivated_member_drops_out_of_the_team_figures(with_teams):
    world, _t = with_teams
    marc = Membership.objects.get(organization=world.org, user=world.manager)
    members.deactivate_member(actor=acting(world.admin), membership_id=marc.pk)
    fact = rows(world)["Facturation"]  # Agathe's figures only: T3 (Marc's) is out
    assert (fact["members"], fact["created"], fact["resolved"]) == (1, 4, 3)
    assert fact["csat"] == {"n": 2, "average": 4.0} and fact["first_response"]["measured"] == 4


def test_filters_apply_to_the_teams_and_a_team_filters_the_dashboard(with_teams):
    world, _t = with_teams
    teams = rows(world)
    by_marc = rows(world, DashboardFilters(start=PERIOD.start, end=PERIOD.end, agent=world.manager.pk))
    assert (by_marc["Facturation"]["created"], by_marc["Niveau 1"]["created"]) == (1, 0)
    urgent = rows(world, DashboardFilters(start=PERIOD.start, end=PERIOD.end, priority="urgent"))
    assert urgent["Facturation"]["created"] == 1 and urgent["Facturation"]["csat"]["n"] == 1  # T3
    n1 = DashboardFilters(start=PERIOD.start, end=PERIOD.end, team=teams["Niveau 1"]["team_id"])
    assert list(rows(world, n1)) == ["Niveau 1"]  # filtered by a team: that team's row only
    data = figures.compute(world.org, n1, now=NOW, time_zone="Europe/Paris")
    assert data["opened"] == 4 and data["closed"] == 3  # T1, T2, T4, T7; T1, T2, T7
    assert [a["name"] for a in data["agents"]] == [world.agent.get_full_name()]
    assert data["first_response"]["measured"] == 4 and data["satisfaction"]["count"] == 2
    assert QueryDict(data["opened_href"])["team"] == str(n1.team)
    # Another organization's team id filters to nothing.
    theirs = DashboardFilters(start=PERIOD.start, end=PERIOD.end, team=rows_of_other(world))
    assert figures.compute(world.org, theirs, now=NOW, time_zone="Europe/Paris")["opened"] == 0
    assert team_figures.compute(world.org, theirs, time_zone="Europe/Paris") == []


def rows_of_other(world) -> int:
    return team_figures.compute(world.other_org, PERIOD, time_zone="Europe/Paris")[0]["team_id"]


def test_each_team_row_links_to_the_tickets_it_counts(with_teams):
    world, _t = with_teams

    def listed(query: str) -> int:
        f = selectors.TicketFilters.from_params(QueryDict(query))
        assert not f.errors, query
        return selectors.count_matches(world.org, f, user=world.manager, cap=1000)

    for f in (
        PERIOD,
        DashboardFilters(start=PERIOD.start, end=PERIOD.end, agent=world.manager.pk),
        DashboardFilters(start=PERIOD.start, end=PERIOD.end, priority="high"),
    ):
        for row in team_figures.compute(world.org, f, time_zone="Europe/Paris"):
            assert listed(row["href"]) == row["created"], (f, row["name"])


def test_four_queries_whatever_the_number_of_teams_and_tickets(with_teams):
    world, _t = with_teams

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            team_figures.compute(world.org, PERIOD, time_zone="Europe/Paris")
        return len(ctx.captured_queries)

    small = count()
    people = [member(world.org, Role.AGENT) for _ in range(5)]
    for i in range(15):
        team_of(world.org, f"Équipe {i}", *people[: i % 5 + 1])
    bulk_tickets(world.org, 100, assignee=people[0])
    assert count() == small == 4  # the teams; the period (rollups.read): three


def test_the_page_shows_the_table_and_the_team_filter(client, with_teams):
    world, _t = with_teams
    client.force_login(world.manager)
    url = reverse("sla:dashboard")
    html = assert_full_page(client.get(url, {"start": "2025-03-10", "end": "2025-03-23"}))
    assert 'id="per-team"' in html and "Par équipe" in html and "Niveau 1" in html
    assert "2 membres actifs" in html and 'name="team"' in html and "Globex" not in html
    team_id = rows(world)["Facturation"]["team_id"]
    assert f"team={team_id}" in html  # the row's drill-down link
    html = assert_full_page(client.get(url, {"start": "2025-03-10", "end": "2025-03-23", "team": team_id}))
    assert "Facturation" in html and "Niveau 1</a>" not in html
    assert client.get(url, {"team": rows_of_other(world)}).status_code == 400  # not one of ours


def test_the_report_has_the_per_team_table(with_teams):
    """The fast lane's check of the report's per-team table: the page the PDF is made of (``render_html``)."""
    world, _t = with_teams
    report = reports.generate_report(organization=world.org, filters=PERIOD, actor=acting(world.manager), now=NOW)
    assert [r["name"] for r in report.data["teams"]] == ["Facturation", "Niveau 1", "Vide"]
    html = reports.render_html(report)
    assert "par équipe" in html.lower() and "Facturation" in html and "Niveau 1" in html and "Globex" not in html


# WeasyPrint lays the PDF out, poppler reads it back: slow. The fast check is test_the_report_has_the_per_team_table.
@pytest.mark.slow
def test_the_pdf_report_has_the_per_team_table(with_teams, tmp_path):
    world, _t = with_teams
    report = reports.generate_report(organization=world.org, filters=PERIOD, actor=acting(world.manager), now=NOW)
    assert [r["name"] for r in report.data["teams"]] == ["Facturation", "Niveau 1", "Vide"]
    path = tmp_path / "report.pdf"
    path.write_bytes(reports.render_pdf(report))
    text = subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    assert "par équipe" in text.lower() and "Facturation" in text and "Niveau 1" in text


def test_a_report_saved_before_teams_still_renders_its_page(with_teams):
    """The fast lane's check of a report saved before teams: the page the PDF is made of (``render_html``)
    renders, without the per-team table."""
    world, _t = with_teams
    report = reports.generate_report(organization=world.org, filters=PERIOD, actor=acting(world.manager), now=NOW)
    del report.data["teams"]
    html = reports.render_html(report)
    assert "Tableau de bord — Acme" in html and "Du 10/03/2025 au 23/03/2025" in html
    assert 'id="per-team"' not in html and "Niveau 1" not in html


# WeasyPrint lays the PDF out: slow. The fast check is test_a_report_saved_before_teams_still_renders_its_page.
@pytest.mark.slow
def test_a_report_saved_before_teams_still_renders(with_teams, tmp_path):
    world, _t = with_teams
    report = reports.generate_report(organization=world.org, filters=PERIOD, actor=acting(world.manager), now=NOW)
    del report.data["teams"]
    assert reports.render_pdf(report)[:4] == b"%PDF"
    assert date.fromisoformat(report.data["period"]["start"]) == PERIOD.start
