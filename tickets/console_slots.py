"""What an app above ``tickets`` shows on the agent console: the SLA column of the list and the SLA clocks
of the ticket page.

``tickets`` sits below ``sla`` and never imports it (DESIGN.md "Layers"): ``sla`` fills these slots at
startup (``SlaConfig.ready``), as the apps above ``billing`` register their counters in ``billing.usage``.
An empty slot shows nothing (no column value, no clocks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

ListColumn = Callable[[Any, list, datetime], dict[int, Any]]  # (organization, tickets, now) -> {ticket id: value}
TicketPanel = Callable[[Any, datetime], Any]  # (ticket, now) -> the panel's context

_sla_column: ListColumn | None = None
_sla_panel: TicketPanel | None = None


def register_sla(*, column: ListColumn, panel: TicketPanel) -> None:
    global _sla_column, _sla_panel
    _sla_column, _sla_panel = column, panel


def sla_column(organization, tickets: list, now: datetime) -> dict[int, Any]:
    return _sla_column(organization, tickets, now) if _sla_column else {}


def sla_panel(ticket, now: datetime) -> Any:
    return _sla_panel(ticket, now) if _sla_panel else {"clocks": [], "imported": ticket.imported}
