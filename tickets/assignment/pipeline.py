"""Assignment by availability (001 §2 option): a **step** of the ticket pipeline (``tickets.pipeline``), after
the SLA stamps and before the creation rules (``settings.TICKET_PIPELINE``), so a rule can still change the
assignee, and an agent can by hand at any time.

Contract:
- It acts on a **creation** only, when the organization turned it on (``AutoAssignment.enabled``), and
  never on a ticket created with an assignee (the new-ticket form, the API, an import), an imported
  (historical) ticket, an automatic one (``is_automatic``: auto-replies, bounces) or one already marked spam.
- Outside the organization's opening hours (``lumiodesk.calendar``) nobody is available: the ticket stays
  unassigned. Otherwise it goes to the first of the eligible members (active, of the roles the setting
  names, who may be assigned) who is online in the console (``lumiodesk.presence``), not Absent, and under
  the load limit (open tickets ``< load_limit``), in this order: the fewest open tickets, then the one
  whose last turn is oldest (never served first: round-robin on ties, by the setting's turn counter),
  then the lowest user id.
- Two creations at once: the setting row is locked (``SELECT … FOR UPDATE``) until the creating transaction
  commits, so the second one counts the first one's ticket and turn (READ COMMITTED: each statement after
  the lock sees what committed before it). Creations already take the organization row's lock for the
  ticket number; this lock is taken after it, so the order is always the same.
- It assigns through ``tickets.services.assign`` as the system actor with ``reason="availability"``: the
  same audit row (the ticket's history says "Attribué automatiquement à X (disponibilité)"), agent
  notification, webhook and "updated" rules as any assignment. Queries: a fixed number whatever the team's
  size (the setting, the calendar, one aggregate, the assignee, the turn, then ``assign``'s own).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection

from lumiodesk import rows
from lumiodesk.permissions import SystemActor

from ..pipeline import ChangeKind, TicketChange
from ..services import assign
from . import selectors
from .models import AutoAssignment

ACTOR = SystemActor("assignment by availability")
REASON = "availability"

# The setting's counter moves on and the agent's turn takes its value (one statement, under the row's lock).
_TURN_SQL = """
WITH counter AS (
    UPDATE tickets_autoassignment SET turns = turns + 1 WHERE organization_id = %s RETURNING turns
)
INSERT INTO tickets_assignmentturn (organization_id, user_id, turn, last_assigned_at)
SELECT %s, %s, counter.turns, %s FROM counter
ON CONFLICT (organization_id, user_id) DO UPDATE SET turn = EXCLUDED.turn, last_assigned_at = EXCLUDED.last_assigned_at
"""


# The organization's setting when it is on, locked (the turn counter moves under this lock).
_SETTING_SQL = (
    f"SELECT {rows.columns(AutoAssignment, 'a')} FROM {AutoAssignment._meta.db_table} a "
    "WHERE a.organization_id = %s AND a.enabled FOR UPDATE"
)


def assign_by_availability(c: TicketChange) -> set[str]:
    ticket = c.ticket
    if c.kind != ChangeKind.CREATED or ticket.imported or ticket.is_automatic or ticket.assignee_id or ticket.spam_at:
        return set()
    with connection.cursor() as cur:  # every new ticket asks: a fixed statement, no queryset to compile
        cur.execute(_SETTING_SQL, [ticket.organization_id])
        row = cur.fetchone()
    if row is None:
        return set()
    setting = rows.instance(AutoAssignment, row)
    agent = selectors.next_agent(ticket.organization_id, setting, c.now)
    if agent is None:
        return set()
    assignee = get_user_model().objects.get(pk=agent.user_id)
    with connection.cursor() as cur:
        cur.execute(_TURN_SQL, [ticket.organization_id, ticket.organization_id, agent.user_id, c.now])
    assign(ticket=ticket, assignee=assignee, actor=ACTOR, reason=REASON)  # saves the assignee itself
    return set()
