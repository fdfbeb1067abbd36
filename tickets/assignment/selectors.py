"""Who is available for assignment by availability, and their load: one aggregate query and one Redis MGET,
whatever the number of agents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from lumiodesk import presence
from lumiodesk.calendar.selectors import calendar_of
from lumiodesk.models import Membership, Organization, Role
from lumiodesk.permissions import roles_with

from ..models import OPEN_STATUSES, Ticket
from .models import DEFAULT_LOAD_LIMIT, AutoAssignment, default_roles

# Every active member of the eligible roles with their open tickets and their last turn, in the order the
# rule serves them: the fewest open tickets, then the one served longest ago (never: first), then the oldest id.
# The count reads ``ticket_assignee_idx`` (organization, assignee, status).
_TEAM_SQL = """
SELECT m.user_id, m.role, m.is_absent, u.first_name, u.last_name, u.email,
       (SELECT count(*) FROM tickets_ticket t
         WHERE t.organization_id = m.organization_id AND t.assignee_id = m.user_id AND t.status = ANY(%s)) AS load,
       turn.last_assigned_at
FROM lumiodesk_membership m
JOIN auth_user u ON u.id = m.user_id
LEFT JOIN tickets_assignmentturn turn ON turn.organization_id = m.organization_id AND turn.user_id = m.user_id
WHERE m.organization_id = %s AND m.is_active AND m.role = ANY(%s)
ORDER BY load, turn.turn NULLS FIRST, m.user_id
"""


def is_full(load: int, load_limit: int) -> bool:
    """An agent at the limit counts as full: they get no new ticket."""
    return load >= load_limit


@dataclass(frozen=True)
class AgentState:
    user_id: int
    role: str
    name: str
    load: int
    last_assigned_at: datetime | None
    online: bool
    absent: bool
    over_limit: bool

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def available(self) -> bool:
        """Online, not Absent, under the load limit (the opening hours are the organization's, asked apart)."""
        return self.online and not self.absent and not self.over_limit


def setting_of(organization: Organization) -> AutoAssignment:
    """The organization's setting (unsaved defaults, off, when it never opened it)."""
    found = AutoAssignment.objects.filter(organization=organization).first()
    return found or AutoAssignment(
        organization=organization, enabled=False, load_limit=DEFAULT_LOAD_LIMIT, roles=default_roles()
    )


def eligible_roles(setting: AutoAssignment) -> list[str]:
    """The roles the setting names that may also be assigned tickets (the permission table has the last word)."""
    return sorted(set(setting.roles) & roles_with("tickets.be_assigned") & roles_with("tickets.reply"))


def team_states(organization_id: int, setting: AutoAssignment) -> list[AgentState]:
    """The eligible members in serving order, each with their load and presence: one query, one Redis MGET."""
    with connection.cursor() as cur:
        cur.execute(_TEAM_SQL, [list(OPEN_STATUSES), organization_id, eligible_roles(setting)])
        rows = cur.fetchall()
    online = presence.online_user_ids(organization_id, [r[0] for r in rows])
    return [
        AgentState(
            user_id=uid,
            role=role,
            name=f"{first} {last}".strip() or email,
            load=load,
            last_assigned_at=turn,
            online=uid in online,
            absent=absent,
            over_limit=is_full(load, setting.load_limit),
        )
        for uid, role, absent, first, last, email, load, turn in rows
    ]


def open_now(organization_id: int, now: datetime | None = None) -> bool:
    """Inside the organization's opening hours (its business calendar: hours, holidays, time zone)."""
    calendar = calendar_of(organization_id)
    return calendar.has_hours and calendar.is_open(now or timezone.now())


def first_available(team: list[AgentState], is_open: bool) -> AgentState | None:
    """The rule itself: nobody outside opening hours; else the first available member in serving order."""
    return next((a for a in team if a.available), None) if is_open else None


def next_agent(organization_id: int, setting: AutoAssignment, now: datetime) -> AgentState | None:
    """Who gets the next ticket (the team is read only inside opening hours)."""
    if not open_now(organization_id, now):
        return None
    return first_available(team_states(organization_id, setting), True)


@dataclass(frozen=True)
class OwnState:
    """What the console's header tells a member of their own state."""

    enabled: bool  # the organization assigns by availability
    eligible: bool  # their role is among the eligible ones
    absent: bool
    open_now: bool
    load: int | None = None
    load_limit: int | None = None

    @property
    def code(self) -> str:
        if self.absent:
            return "absent"
        if not self.enabled or not self.eligible:
            return "online"
        if not self.open_now:
            return "closed"
        if self.load is not None and self.load_limit is not None and is_full(self.load, self.load_limit):
            return "full"
        return "available"


def own_state(membership: Membership) -> OwnState:
    """The member's own state: the setting (one query), and when it applies to them the hours and their load."""
    setting = setting_of(membership.organization)
    eligible = setting.enabled and membership.role in eligible_roles(setting)
    if not eligible or membership.is_absent:
        return OwnState(enabled=setting.enabled, eligible=eligible, absent=membership.is_absent, open_now=True)
    load = Ticket.objects.filter(
        organization_id=membership.organization_id, assignee_id=membership.user_id, status__in=OPEN_STATUSES
    ).count()
    return OwnState(
        enabled=True,
        eligible=True,
        absent=False,
        open_now=open_now(membership.organization_id),
        load=load,
        load_limit=setting.load_limit,
    )
