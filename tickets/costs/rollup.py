"""The monthly rollups of time entries (``TimeCostMonth`` per ticket, agent and month; ``TicketCostMonth`` per
ticket and month), what the dashboard and the budgets read.

Contract: every write on a stopped ``TimeEntry`` (created, edited, deleted, a timer stopped) calls ``add``
with the change, in the same transaction: an ``INSERT ... ON CONFLICT DO UPDATE`` adding the delta to the
(ticket, agent, month) row and another to the (ticket, month) row, so concurrent writes add up and never
overwrite each other. A running timer counts nothing until it stops. ``rebuild`` recomputes an organization's
rows from the entries (bulk loads: the demo seed, the bench, a repair)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection

from .models import TicketCostMonth, TimeCostMonth, TimeEntry

_TABLE = TimeCostMonth._meta.db_table
_TICKETS = TicketCostMonth._meta.db_table
_ENTRIES = TimeEntry._meta.db_table

_ADD = f"""
INSERT INTO {_TABLE} (organization_id, month, ticket_id, user_id, customer_id, minutes, cost_cents, entries)
SELECT t.organization_id, %s, t.id, %s, t.customer_id, %s, %s, %s FROM tickets_ticket t WHERE t.id = %s
ON CONFLICT (ticket_id, user_id, month) DO UPDATE SET
    minutes = {_TABLE}.minutes + EXCLUDED.minutes,
    cost_cents = {_TABLE}.cost_cents + EXCLUDED.cost_cents,
    entries = {_TABLE}.entries + EXCLUDED.entries
"""


_ADD_TICKET = f"""
INSERT INTO {_TICKETS} (organization_id, month, ticket_id, customer_id, minutes, cost_cents, entries)
SELECT t.organization_id, %s, t.id, t.customer_id, %s, %s, %s FROM tickets_ticket t WHERE t.id = %s
ON CONFLICT (ticket_id, month) DO UPDATE SET
    minutes = {_TICKETS}.minutes + EXCLUDED.minutes,
    cost_cents = {_TICKETS}.cost_cents + EXCLUDED.cost_cents,
    entries = {_TICKETS}.entries + EXCLUDED.entries
"""


def add(*, ticket_id: int, user_id: int, day: date, minutes: int, cost: Decimal, entries: int = 1) -> None:
    """Add (or, negative, take away) one entry's time and cost to its month."""
    cents = int(cost * 100)  # costs are to the cent
    with connection.cursor() as cur:
        cur.execute(_ADD, [day.replace(day=1), user_id, minutes, cents, entries, ticket_id])
        cur.execute(_ADD_TICKET, [day.replace(day=1), minutes, cents, entries, ticket_id])


def add_entry(entry: TimeEntry, sign: int = 1) -> None:
    if entry.running:
        return
    add(ticket_id=entry.ticket_id, user_id=entry.user_id, day=entry.date, minutes=sign * entry.minutes,
        cost=sign * entry.cost, entries=sign)


def rebuild(organization_id: int) -> int:
    """Recompute the organization's rollup from its stopped entries; returns the number of rows."""
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_TABLE} WHERE organization_id = %s", [organization_id])
        cur.execute(f"""
            INSERT INTO {_TABLE} (organization_id, month, ticket_id, user_id, customer_id, minutes, cost_cents, entries)
            SELECT e.organization_id, date_trunc('month', e.date)::date, e.ticket_id, e.user_id, t.customer_id,
                   sum(e.minutes), (sum(e.cost) * 100)::bigint, count(*)
            FROM {_ENTRIES} e JOIN tickets_ticket t ON t.id = e.ticket_id
            WHERE e.organization_id = %s AND NOT e.running
            GROUP BY 1, 2, 3, 4, 5
        """, [organization_id])
        rows = cur.rowcount
        cur.execute(f"DELETE FROM {_TICKETS} WHERE organization_id = %s", [organization_id])
        cur.execute(f"""
            INSERT INTO {_TICKETS} (organization_id, month, ticket_id, customer_id, minutes, cost_cents, entries)
            SELECT organization_id, month, ticket_id, customer_id, sum(minutes), sum(cost_cents), sum(entries)
            FROM {_TABLE} WHERE organization_id = %s GROUP BY 1, 2, 3, 4
        """, [organization_id])
        return rows
