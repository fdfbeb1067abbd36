"""An organization's SLA configuration (calendar, targets, pause setting), read in one query.

The calendar is the core's (``lumiodesk.calendar``); it is read here in the same query as the targets.
Defaults (section 13) apply to whatever an organization has no row for: Monday–Friday 9:00–18:00,
low 24 business hours / 5 business days, normal 8 h / 3 d, high 2 h / 1 d, urgent 30 min / 4 h,
and the resolution clock paused while waiting on the customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from lumiodesk.calendar.business_time import Calendar, Unit
from lumiodesk.calendar.selectors import calendar_from_rows
from tickets.models import Priority


@dataclass(frozen=True)
class Target:
    amount: int
    unit: str


@dataclass(frozen=True)
class Policy:
    first_response: Target
    resolution: Target


DEFAULT_POLICIES: dict[str, Policy] = {
    Priority.LOW: Policy(Target(24, Unit.HOURS), Target(5, Unit.DAYS)),
    Priority.NORMAL: Policy(Target(8, Unit.HOURS), Target(3, Unit.DAYS)),
    Priority.HIGH: Policy(Target(2, Unit.HOURS), Target(1, Unit.DAYS)),
    Priority.URGENT: Policy(Target(30, Unit.MINUTES), Target(4, Unit.HOURS)),
}
# "SLA soon breached" (section 17): this long before the due time, in business time.
WARNING_LEADS: dict[str, Target] = {
    Priority.URGENT: Target(15, Unit.MINUTES),
    Priority.HIGH: Target(1, Unit.HOURS),
    Priority.NORMAL: Target(4, Unit.HOURS),
    Priority.LOW: Target(1, Unit.DAYS),
}


@dataclass(frozen=True)
class SlaConfig:
    organization_id: int
    calendar: Calendar
    policies: dict[str, Policy]
    pause_when_waiting_customer: bool = True
    language: str = "fr"

    def policy(self, priority: str) -> Policy:
        return self.policies.get(priority, DEFAULT_POLICIES[priority])


_SQL = """
SELECT o.id, o.time_zone, o.language,
    (SELECT json_agg(json_build_array(h.weekday, h.is_open, h.opens, h.closes))
       FROM sla_businesshours h WHERE h.organization_id = o.id),
    (SELECT json_agg(d.date) FROM sla_holiday d WHERE d.organization_id = o.id),
    (SELECT json_agg(json_build_array(p.priority, p.first_response_amount, p.first_response_unit,
                                      p.resolution_amount, p.resolution_unit))
       FROM sla_slapolicy p WHERE p.organization_id = o.id),
    (SELECT s.pause_when_waiting_customer FROM sla_slasettings s WHERE s.organization_id = o.id)
FROM lumiodesk_organization o
WHERE o.id = ANY(%s)
"""


def sla_configs(organization_ids: Iterable[int]) -> dict[int, SlaConfig]:
    """The configurations of these organizations, in one query."""
    ids = sorted(set(organization_ids))
    if not ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(_SQL, [ids])
        rows = cur.fetchall()
    out = {}
    for org_id, tz, language, hours, holidays, policies, pause in rows:
        out[org_id] = SlaConfig(
            organization_id=org_id,
            calendar=calendar_from_rows(tz, hours, holidays),
            policies={
                p: Policy(Target(fa, fu), Target(ra, ru)) for p, fa, fu, ra, ru in policies or ()
            } or dict(DEFAULT_POLICIES),
            pause_when_waiting_customer=True if pause is None else pause,
            language=language,
        )
    return out


def sla_config(organization_id: int) -> SlaConfig:
    return sla_configs([organization_id])[organization_id]
