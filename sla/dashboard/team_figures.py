"""The dashboard's per-team table: the per-agent table's columns, for each team (``lumiodesk.teams``).

Contract:
- Four aggregate queries whatever the number of teams, members and tickets (no query per team): the teams and
  their active members' count, then the tickets, the SLA outcomes and the ratings of the period grouped by team.
  Each reads what the per-agent figures read (``figures``: the period, the same filters, spam left out), joined
  to the teams' active members (``lumiodesk.teams.MEMBERS_SQL``).
- A team's figures are those of the tickets assigned to its active members (outcomes and ratings: of the
  agent they name, as in the per-agent table), whatever team they were in when the ticket was worked: a member
  in two teams counts in both, so the teams' rows need not add up to the totals. A deactivated member drops out.
- Filtered by a team, the table shows that team only (its row's link then counts what the row counts).
- The result is plain JSON, stored with the rest of the figures in a saved report (``data["teams"]``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from lumiodesk import teams
from lumiodesk.models import Organization
from tickets.selectors import ACTIVE, local_day_start

from .figures import FIRST_RESPONSE_TARGET, RESOLUTION_TARGET, DashboardFilters, _href, _share, _times, _where

_MEMBERS = f"WITH tm AS ({teams.MEMBERS_SQL})\n"

# Each query reads the period's rows first, as the per-agent figures do (the subquery's OFFSET 0 keeps PostgreSQL
# from starting at the members: by agent, it read every outcome and rating of all time, 580 ms at 100,000
# tickets), then hashes them against the few (team, member) pairs.
_TEAMS = """
SELECT team.id, team.name,
       (SELECT count(*) FROM tm WHERE tm.team_id = team.id)
FROM lumiodesk_team team
WHERE team.organization_id = %(org)s {only}
ORDER BY lower(team.name), team.id
"""

_TICKETS = """
SELECT tm.team_id,
       count(*),
       count(*) FILTER (WHERE t.resolved_at IS NOT NULL),
       count(*) FILTER (WHERE t.status = ANY(%(active)s)),
       count(*) FILTER (WHERE t.resolved_at IS NOT NULL AND t.first_response_at IS NOT NULL),
       count(*) FILTER (WHERE t.resolved_at IS NOT NULL AND t.first_response_at IS NOT NULL
                        AND NOT t.last_customer_message_at > t.first_response_at)
FROM (SELECT t.assignee_id, t.status, t.resolved_at, t.first_response_at, t.last_customer_message_at
      FROM tickets_ticket t
      WHERE t.organization_id = %(org)s AND t.created_at >= %(start)s AND t.created_at < %(end)s
        AND t.assignee_id IS NOT NULL {where}
      OFFSET 0) t
JOIN tm ON tm.user_id = t.assignee_id
GROUP BY tm.team_id
"""

_OUTCOMES = """
SELECT o.metric, tm.team_id,
       count(*) FILTER (WHERE o.achieved_at IS NOT NULL AND NOT o.breached),
       count(*) FILTER (WHERE o.breached),
       avg(o.business_seconds),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY o.business_seconds),
       percentile_cont(0.8) WITHIN GROUP (ORDER BY o.business_seconds),
       count(o.business_seconds),
       count(*) FILTER (WHERE o.business_seconds <= CASE o.metric WHEN 'first_response' THEN %(first_target)s
                                                                 ELSE %(resolution_target)s END)
FROM (SELECT o.metric, o.agent_id, o.achieved_at, o.breached, o.business_seconds
      FROM sla_slaoutcome o {join}
      WHERE o.organization_id = %(org)s AND o.ticket_created_at >= %(start)s AND o.ticket_created_at < %(end)s
        AND o.agent_id IS NOT NULL {outcome_where}
      OFFSET 0) o
JOIN tm ON tm.user_id = o.agent_id
GROUP BY o.metric, tm.team_id
"""

_SATISFACTION = """
SELECT tm.team_id, count(*), avg(s.score)
FROM (SELECT s.agent_id, s.score
      FROM crm_satisfactionrating s JOIN tickets_ticket t ON t.id = s.ticket_id
      WHERE s.organization_id = %(org)s AND t.organization_id = %(org)s
        AND t.created_at >= %(start)s AND t.created_at < %(end)s AND s.agent_id IS NOT NULL {where}
      OFFSET 0) s
JOIN tm ON tm.user_id = s.agent_id
GROUP BY tm.team_id
"""


def compute(organization: Organization, f: DashboardFilters, *, time_zone: str) -> list[dict]:
    """One row per team of the organization (only the filter's team when filtered), by name."""

    def day(d) -> datetime:
        return local_day_start(d, time_zone)

    params = {
        "org": organization.pk,
        "agent": f.agent,
        "channel": f.channel,
        "priority": f.priority,
        "tag": f.tag,
        "company": f.company,
        "team": f.team,
        "active": list(ACTIVE),
        "start": day(f.start),
        "end": day(f.end + timedelta(days=1)),
        "first_target": FIRST_RESPONSE_TARGET,
        "resolution_target": RESOLUTION_TARGET,
    }
    where = _where(f)
    only = "AND team.id = %(team)s" if f.team else ""
    # As in ``figures.compute``: the outcomes carry the period; the ticket is joined only for the filters, and
    # without them the few spam tickets are left out by id (index ticket_spam_idx).
    join = "JOIN tickets_ticket t ON t.id = o.ticket_id" if f.filtered else ""
    outcome_where = (
        where
        if f.filtered
        else (
            " AND o.ticket_id <> ALL(ARRAY(SELECT s.id FROM tickets_ticket s"
            " WHERE s.organization_id = %(org)s AND s.spam_at IS NOT NULL))"
        )
    )
    with connection.cursor() as cur:
        results = []
        for sql in (_TEAMS, _TICKETS, _OUTCOMES, _SATISFACTION):
            cur.execute(_MEMBERS + sql.format(where=where, only=only, join=join, outcome_where=outcome_where), params)
            results.append(cur.fetchall())
    team_rows, ticket_rows, outcome_rows, satisfaction_rows = results

    by_team: dict[int, dict] = {team_id: {} for team_id, _name, _members in team_rows}
    for team_id, created, resolved, open_, replied, first_contact in ticket_rows:
        by_team.setdefault(team_id, {}).update(
            created=created, resolved=resolved, open=open_, replied=replied, first_contact=first_contact
        )
    for metric, team_id, met, breached, average, median, p80, measured, within in outcome_rows:
        by_team.setdefault(team_id, {})[metric] = _times(met, breached, average, median, p80, measured, within)
    for team_id, n, average in satisfaction_rows:
        by_team.setdefault(team_id, {})["csat"] = {"n": n, "average": round(float(average), 2)}

    base = f.list_params()
    empty = _times()
    rows = []
    for team_id, name, members in team_rows:
        row = by_team[team_id]
        rows.append(
            {
                "team_id": team_id,
                "name": name,
                "members": members,
                "created": row.get("created", 0),
                "resolved": row.get("resolved", 0),
                "open": row.get("open", 0),
                "first_contact_rate": _share(row.get("first_contact", 0), row.get("replied", 0)),
                "first_response": row.get("first_response", empty),
                "resolution": row.get("resolution", empty),
                "csat": row.get("csat", {"n": 0, "average": None}),
                "href": _href(
                    {**base, "team": str(team_id)}, created_from=f.start.isoformat(), created_to=f.end.isoformat()
                ),
            }
        )
    return rows
