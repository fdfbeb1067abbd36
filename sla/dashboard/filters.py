"""The dashboard's filters and objectives, shared by ``figures`` (the figures) and ``rollups`` (the period)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lumiodesk import teams

FIRST_RESPONSE_TARGET = 2 * 3600  # business seconds (002: "Première réponse : < 2 heures")
LATER_REPLY_TARGET = 4 * 3600  # seconds (002: "Réponses suivantes : < 4 heures")
RESOLUTION_TARGET = 24 * 3600  # business seconds ...
RESOLUTION_SHARE = 80.0  # ... for 80 % of the tickets (002)
FIRST_CONTACT_SHARE = 90.0  # "> 90 % de tickets résolus au premier contact" (002)
MAX_DAYS = 366
COMMENTS = 5


@dataclass(frozen=True)
class DashboardFilters:
    start: date
    end: date  # inclusive
    agent: int | None = None
    channel: str = ""
    priority: str = ""
    tag: str = ""
    company: int | None = None
    team: int | None = None  # lumiodesk.teams: the tickets assigned to the team's active members

    @property
    def filtered(self) -> bool:
        return bool(self.agent or self.channel or self.priority or self.tag or self.company or self.team)

    def as_params(self) -> dict[str, str]:
        """The dashboard's own query string."""
        params = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for key, value in (("agent", self.agent), ("channel", self.channel), ("priority", self.priority),
                           ("tag", self.tag), ("company", self.company), ("team", self.team)):
            if value:
                params[key] = str(value)
        return params

    def list_params(self) -> dict[str, str]:
        """The ticket list's filters that every drill-down link shares (not the period): spam left out."""
        params = {"spam": "0"}
        if self.agent:
            params["assignee"] = str(self.agent)
        for key in ("channel", "priority", "tag"):
            if getattr(self, key):
                params[key] = getattr(self, key)
        if self.company:
            params["company"] = str(self.company)
        if self.team:
            params["team"] = str(self.team)
        return params


def _where(f: DashboardFilters) -> str:
    """The filters on the ticket ``t``: never a ticket marked as spam, then the user's filters."""
    sql = " AND t.spam_at IS NULL"
    if f.agent:
        sql += " AND t.assignee_id = %(agent)s"
    if f.channel:
        sql += " AND t.channel = %(channel)s"
    if f.priority:
        sql += " AND t.priority = %(priority)s"
    if f.company:
        sql += (" AND t.customer_id IN (SELECT c.id FROM crm_customer c"
                " WHERE c.organization_id = %(org)s AND c.company_id = %(company)s)")
    if f.tag:
        sql += (" AND EXISTS (SELECT 1 FROM tickets_tickettag tt JOIN tickets_tag g ON g.id = tt.tag_id"
                " WHERE tt.ticket_id = t.id AND g.organization_id = %(org)s AND lower(g.name) = lower(%(tag)s))")
    if f.team:  # the members' ids read once (an array): as a join, PostgreSQL read all their tickets by assignee
        sql += (f" AND t.assignee_id = ANY(ARRAY(SELECT tm.user_id FROM ({teams.MEMBERS_SQL}) tm"
                " WHERE tm.team_id = %(team)s))")
    return sql
