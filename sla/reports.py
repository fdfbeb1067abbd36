"""SLA reports: compliance per priority, per agent and per period; first-response and resolution
times (average and median) in business time.

A report covers the tickets *created* between two local dates of the organization. It is computed
by one query (``GROUPING SETS``) over ``SlaOutcome`` and stored as a snapshot (``SlaReport``) with the
time zone in force when it was generated (section 3): changing the organization's time zone later
does not change a report already generated.

Compliance = met / (met + breached); a ticket still within its target is not counted yet.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization, user_display_name
from lumiodesk.permissions import Actor, require
from tickets.models import Priority, Ticket
from tickets.portal.satisfaction import satisfaction_report

from . import outcomes
from .models import Granularity, Metric, SlaReport

MAX_DAYS = 366

_SQL = """
SELECT metric, priority, agent_id,
       date_trunc(%(granularity)s, ticket_created_at AT TIME ZONE %(tz)s)::date AS period,
       GROUPING(priority, agent_id, date_trunc(%(granularity)s, ticket_created_at AT TIME ZONE %(tz)s)) AS g,
       count(*) FILTER (WHERE achieved_at IS NOT NULL AND NOT breached) AS met,
       count(*) FILTER (WHERE breached) AS breached,
       avg(business_seconds) AS average,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY business_seconds) AS median,
       count(business_seconds) AS measured
FROM sla_slaoutcome
WHERE organization_id = %(org)s AND ticket_created_at >= %(start)s AND ticket_created_at < %(end)s
GROUP BY GROUPING SETS (
    (metric),
    (metric, priority),
    (metric, agent_id),
    (metric, date_trunc(%(granularity)s, ticket_created_at AT TIME ZONE %(tz)s))
)
"""


def _stats(met: int, breached: int, average, median, measured: int) -> dict:
    decided = met + breached
    return {
        "met": met, "breached": breached,
        "compliance": round(100 * met / decided, 1) if decided else None,
        "average": round(float(average)) if average is not None else None,
        "median": round(float(median)) if median is not None else None,
        "measured": measured,
    }


def compute(organization: Organization, *, start: date, end: date, granularity: str, time_zone: str,
            now: datetime) -> dict:
    tz = ZoneInfo(time_zone)
    start_at = datetime.combine(start, time(), tzinfo=tz)
    end_at = datetime.combine(end + timedelta(days=1), time(), tzinfo=tz)
    outcomes.record_breaches(organization.pk, now)
    with connection.cursor() as cur:
        cur.execute(_SQL, {"org": organization.pk, "start": start_at, "end": end_at, "tz": time_zone,
                           "granularity": granularity})
        rows = cur.fetchall()
    metrics = [m for m, _label in Metric.choices]
    empty = _stats(0, 0, None, None, 0)
    totals = {m: dict(empty) for m in metrics}
    by_priority: dict[str, dict] = {p: {m: dict(empty) for m in metrics} for p in Priority.values}
    by_agent: dict[str, dict] = {}
    by_period: dict[str, dict] = {}
    # GROUPING() bits, most significant first: priority, agent, period.
    for metric, priority, agent_id, period, g, met, breached, average, median, measured in rows:
        stats = _stats(met, breached, average, median, measured)
        if g == 0b111:
            totals[metric] = stats
        elif g == 0b011:
            by_priority[priority][metric] = stats
        elif g == 0b101:
            by_agent.setdefault(str(agent_id or ""), {m: dict(empty) for m in metrics})[metric] = stats
        elif g == 0b110:
            by_period.setdefault(period.isoformat(), {m: dict(empty) for m in metrics})[metric] = stats
    User = get_user_model()
    names = {
        str(u.pk): user_display_name(u)
        for u in User.objects.filter(pk__in=[int(a) for a in by_agent if a])
    }
    created = Ticket.objects.filter(
        organization=organization, imported=False, created_at__gte=start_at, created_at__lt=end_at
    ).count()
    return {
        "tickets": created,
        # Customer satisfaction (CSAT) of the same tickets, per agent rated (tickets.portal.satisfaction).
        "satisfaction": satisfaction_report(organization, start_at=start_at, end_at=end_at),
        "totals": totals,
        "by_priority": [{"priority": p, **by_priority[p]} for p in reversed(Priority.values)],
        "by_agent": sorted(
            ({"agent": names.get(a, _("(non assigné)")), **v} for a, v in by_agent.items()),
            key=lambda row: row["agent"].lower(),
        ),
        "by_period": [{"period": k, **by_period[k]} for k in sorted(by_period)],
    }


@transaction.atomic
def generate_report(*, organization: Organization, start: date, end: date, granularity: str, actor: Actor,
                    now: datetime | None = None) -> SlaReport:
    require(actor, "reports.generate", organization)
    if end < start:
        raise InvalidInput(_("La fin de la période doit suivre son début."))
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(_("Un rapport couvre au plus un an."))
    if granularity not in Granularity.values:
        raise InvalidInput(_("Regroupement inconnu."))
    now = now or timezone.now()
    time_zone = organization.time_zone
    data = compute(organization, start=start, end=end, granularity=granularity, time_zone=time_zone, now=now)
    report = SlaReport.objects.create(
        organization=organization, created_by=actor.user, created_at=now, time_zone=time_zone, start=start, end=end,
        granularity=granularity, data=data,
    )
    audit.record(organization=organization, actor=actor.user, action="sla.report", target_type="sla_report",
                 target_id=report.pk, start=start.isoformat(), end=end.isoformat())
    return report
