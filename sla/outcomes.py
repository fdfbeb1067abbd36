"""SLA outcomes: one row per ticket and metric, written when the target is reached or breached.

Upserts, so the same fact recorded twice (a scan running twice, a ticket resolved again after a
reopening) leaves one row; a breach is never undone (``breached = old OR new``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection


@dataclass(frozen=True)
class OutcomeRow:
    organization_id: int
    ticket_id: int
    metric: str
    priority: str
    agent_id: int | None
    ticket_created_at: datetime
    due_at: datetime
    achieved_at: datetime | None
    business_seconds: int | None
    breached: bool
    at: datetime

    @classmethod
    def breach(cls, ticket, metric: str, due: datetime, now: datetime) -> OutcomeRow:
        """A running clock of ``ticket`` whose due time has passed, breached as of ``now``."""
        return cls(ticket.organization_id, ticket.pk, metric, ticket.priority, ticket.assignee_id, ticket.created_at,
                   due, None, None, True, now)


_UPSERT = """
INSERT INTO sla_slaoutcome (organization_id, ticket_id, metric, priority, agent_id, ticket_created_at, due_at,
                            achieved_at, business_seconds, breached, updated_at)
VALUES {values}
ON CONFLICT (ticket_id, metric) DO UPDATE SET
    priority = EXCLUDED.priority,
    agent_id = COALESCE(EXCLUDED.agent_id, sla_slaoutcome.agent_id),
    due_at = EXCLUDED.due_at,
    achieved_at = COALESCE(EXCLUDED.achieved_at, sla_slaoutcome.achieved_at),
    business_seconds = COALESCE(EXCLUDED.business_seconds, sla_slaoutcome.business_seconds),
    breached = sla_slaoutcome.breached OR EXCLUDED.breached,
    updated_at = EXCLUDED.updated_at
"""


def record(rows: Sequence[OutcomeRow]) -> None:
    if not rows:
        return
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list = []
    for r in rows:
        params += [r.organization_id, r.ticket_id, r.metric, r.priority, r.agent_id, r.ticket_created_at, r.due_at,
                   r.achieved_at, r.business_seconds, r.breached, r.at]
    with connection.cursor() as cur:
        cur.execute(_UPSERT.format(values=values), params)


# The clocks past their due time whose breach may not be recorded yet. The scan records a breach when it looks
# at a ticket, and it looks at every ticket whose ``sla_next_alert_at`` has come; that instant is never later
# than a running clock's due time (``clock.next_alert``; the scan moves it to a warning, a due time or the next
# opening, all at most the due time; ``restamp_open_tickets(past_alerts=False)`` records the breaches it does not
# tell). So a running clock past due without its breach recorded is on a ticket whose ``sla_next_alert_at`` has
# come: the catch-up reads only those, by the partial index ``ticket_sla_alert_idx`` (the scan's backlog, a
# minute's worth when the beat runs), never the organization's tickets. Both metrics in one statement.
_BREACHES = """
INSERT INTO sla_slaoutcome (organization_id, ticket_id, metric, priority, agent_id, ticket_created_at, due_at,
                            achieved_at, business_seconds, breached, updated_at)
SELECT t.organization_id, t.id, c.metric, t.priority, t.assignee_id, t.created_at, c.due, NULL, NULL, true,
       %(now)s
FROM tickets_ticket t
CROSS JOIN LATERAL (VALUES
    ('first_response', t.first_response_due_at, t.first_response_at IS NULL),
    ('resolution', t.resolution_due_at, t.sla_paused_at IS NULL)
) AS c(metric, due, running)
WHERE t.sla_next_alert_at IS NOT NULL AND t.sla_next_alert_at <= %(now)s AND t.organization_id = %(org)s
  AND NOT t.imported AND NOT t.out_of_sla AND t.status NOT IN ('resolved', 'closed')
  AND c.running AND c.due <= %(now)s
ON CONFLICT (ticket_id, metric) DO UPDATE SET breached = true, due_at = EXCLUDED.due_at,
    updated_at = EXCLUDED.updated_at
"""


def record_breaches(organization_id: int, now: datetime) -> None:
    """Every running clock of the organization already past its due time is a breach: the scan records them as
    it goes, this catches up, before a report, with what the scan has not looked at yet (see ``_BREACHES``)."""
    with connection.cursor() as cur:
        cur.execute(_BREACHES, {"org": organization_id, "now": now})
