"""The dashboard's per-team table: the per-agent table's columns, for each team (``lumiodesk.teams``).

Contract:
- One query for the teams and their active members (``lumiodesk.teams.MEMBERS_SQL``), whatever their number;
  the period's figures per credited agent are ``rollups.read``'s (three queries, shared with ``figures`` on the
  page), summed here over each team's members: the same filters, spam left out, built days from the rollups.
- A team's figures are those of the tickets assigned to its active members (outcomes and ratings: of the
  agent they name, as in the per-agent table), whatever team they were in when the ticket was worked: a member
  in two teams counts in both, so the teams' rows need not add up to the totals. A deactivated member drops out.
- Filtered by a team, the table shows that team only (its row's link then counts what the row counts).
- The result is plain JSON, stored with the rest of the figures in a saved report (``data["teams"]``).
"""

from __future__ import annotations

from django.db import connection

from lumiodesk import teams
from lumiodesk.models import Organization

from . import rollups
from .figures import DashboardFilters, _href, _num, _share, _stats, _times

_MEMBERS = f"WITH tm AS ({teams.MEMBERS_SQL})\n"

_TEAMS = """
SELECT team.id, team.name, ARRAY(SELECT tm.user_id FROM tm WHERE tm.team_id = team.id)
FROM lumiodesk_team team
WHERE team.organization_id = %(org)s {only}
ORDER BY lower(team.name), team.id
"""


def compute(organization: Organization, f: DashboardFilters, *, time_zone: str,
            period_data: rollups.Period | None = None) -> list[dict]:
    """One row per team of the organization (only the filter's team when filtered), by name. ``period_data``:
    ``rollups.read`` of the same filters (the figures' own, on the page), read here when not given."""
    only = "AND team.id = %(team)s" if f.team else ""
    with connection.cursor() as cur:
        cur.execute(_MEMBERS + _TEAMS.format(only=only), {"org": organization.pk, "team": f.team})
        team_rows = cur.fetchall()
    pd = period_data or rollups.read(organization, f, time_zone=time_zone)

    base = f.list_params()
    empty = _times()
    rows = []
    for team_id, name, members in team_rows:
        members = set(members)
        sums = dict.fromkeys(rollups.COUNTERS, 0)
        for agent_id, agent_row in pd.agents.items():
            if agent_id in members:
                for key in rollups.COUNTERS:
                    sums[key] += agent_row[key]
        durations = {metric: rollups.Durations() for metric in ("first_response", "resolution")}
        for (metric, agent_id), d in pd.durations.items():
            if metric in durations and agent_id in members:
                durations[metric].add(d)
        csat = {"n": 0, "average": None}
        if sums["csat_n"]:
            csat = {"n": sums["csat_n"],
                    "average": _num(sum(k * sums[f"csat_{k}"] for k in range(1, 6)) / sums["csat_n"], 2)}
        rows.append(
            {
                "team_id": team_id,
                "name": name,
                "members": len(members),
                "created": sums["created"],
                "resolved": sums["resolved"],
                "open": sums["open"],
                "first_contact_rate": _share(sums["first_contact"], sums["replied"]),
                "first_response": _stats(sums, "fr", durations["first_response"]) if sums["fr_n"] else empty,
                "resolution": _stats(sums, "res", durations["resolution"]) if sums["res_n"] else empty,
                "csat": csat,
                "href": _href(
                    {**base, "team": str(team_id)}, created_from=f.start.isoformat(), created_to=f.end.isoformat()
                ),
            }
        )
    return rows
