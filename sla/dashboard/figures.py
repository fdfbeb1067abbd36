"""The dashboard's figures: the day at a glance and a period, against the support guide's objectives (002).

Contract:
- Six queries whatever the data size (``tests/sla/test_view_dashboard.py`` counts them), all aggregates in
  PostgreSQL: the day at a glance (the open backlog and today's tickets: status, SLA, created and resolved
  indexes), the latest comments, the agents' names, and the period through ``rollups.read`` (three: the past
  days from the per-day rollups, the others live from the tickets, outcomes, messages and ratings).
- "Today" and the weeks are the organization's (``time_zone``). Weeks start on Monday.
- Business time: first response and resolution come from ``SlaOutcome.business_seconds`` (the SLA clock's
  own arithmetic, opening hours and holidays); the later replies are measured in elapsed time (no SLA
  clock runs between a customer's later message and our answer).
- Every figure carries the ticket list's query string that shows what it counts (``href``), built from the
  list's own filter parameters (``tickets.selectors.TicketFilters``).

Definitions (also shown on the page):
- tickets marked as spam count nowhere (``spam_at``; their drill-down links say ``spam=0``);
- closed in a week: tickets whose ``resolved_at`` falls in it (closing sets it too; a reopening clears it);
- first-contact resolution: among the tickets of the period resolved after a public reply, the share whose
  customer never had to write again after our first reply (read on the ticket row: no message is read);
- SLA compliance: met / (met + breached) of the SLA outcomes of the tickets created in the period;
- objectives (002): first reply on average < 2 business hours; later replies on average < 4 h; 80 % resolved
  within 24 business hours; more than 90 % resolved at first contact.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext as _

from lumiodesk.models import Organization
from tickets.models import Status
from tickets.selectors import ACTIVE, local_day_start, local_today

from . import rollups
from .filters import (  # noqa: F401 (the module's names for its readers: views, reports, tests)
    COMMENTS,
    FIRST_CONTACT_SHARE,
    FIRST_RESPONSE_TARGET,
    LATER_REPLY_TARGET,
    MAX_DAYS,
    RESOLUTION_SHARE,
    RESOLUTION_TARGET,
    DashboardFilters,
    _where,
)

# The day at a glance: four parts, each served by one index alone (no ticket row read without a filter): the
# open backlog by status, age and urgency (ticket_status_list_idx), the clocks at risk or breached now
# (ticket_sla_due_idx: only open tickets have one), new today (ticket_created_idx), resolved today
# (ticket_resolved_idx). The parts that need no status give none (their counts only add up).
_TODAY = """
SELECT status, sum(backlog)::int, sum(age0)::int, sum(age1)::int, sum(age2)::int, sum(age3)::int,
       sum(new_today)::int, sum(urgent)::int, sum(at_risk)::int, sum(breached)::int, sum(resolved_today)::int
FROM (
    SELECT t.status, count(*) AS backlog,
           count(*) FILTER (WHERE t.created_at >= %(d0)s) AS age0,
           count(*) FILTER (WHERE t.created_at >= %(d2)s AND t.created_at < %(d0)s) AS age1,
           count(*) FILTER (WHERE t.created_at >= %(d6)s AND t.created_at < %(d2)s) AS age2,
           count(*) FILTER (WHERE t.created_at < %(d6)s) AS age3,
           0 AS new_today, count(*) FILTER (WHERE t.is_urgent) AS urgent, 0 AS at_risk, 0 AS breached,
           0 AS resolved_today
    FROM tickets_ticket t
    WHERE t.organization_id = %(org)s AND t.status = ANY(%(active)s) {where}
    GROUP BY t.status
    UNION ALL
    SELECT NULL, 0, 0, 0, 0, 0, 0, 0,
           count(*) FILTER (WHERE t.sla_due_at >= %(now)s AND t.sla_warn_at <= %(now)s),
           count(*) FILTER (WHERE t.sla_due_at < %(now)s), 0
    FROM tickets_ticket t
    WHERE t.organization_id = %(org)s AND t.sla_due_at IS NOT NULL {where}
    UNION ALL
    SELECT NULL, 0, 0, 0, 0, 0, count(*), 0, 0, 0, 0
    FROM tickets_ticket t
    WHERE t.organization_id = %(org)s AND t.created_at >= %(d0)s {where}
    UNION ALL
    SELECT NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*)
    FROM tickets_ticket t
    WHERE t.organization_id = %(org)s AND t.resolved_at >= %(d0)s {where}
) x
GROUP BY status
"""

_COMMENTS = """
SELECT t.number, s.score, s.comment, s.updated_at
FROM crm_satisfactionrating s JOIN tickets_ticket t ON t.id = s.ticket_id
WHERE s.organization_id = %(org)s AND t.organization_id = %(org)s AND s.comment <> ''
  AND t.created_at >= %(start)s AND t.created_at < %(end)s {where}
ORDER BY s.updated_at DESC, s.id DESC LIMIT %(comments)s
"""


def _num(value, digits: int = 0):
    if value is None:
        return None
    return round(float(value), digits) if digits else round(float(value))


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _href(base: dict[str, str], **params) -> str:
    return urlencode({**base, **{k: v for k, v in params.items() if v}})


def _times(met=0, breached=0, average=None, median=None, p80=None, measured=0, within=0) -> dict:
    return {
        "met": met, "breached": breached, "compliance": _share(met, met + breached),
        "average": _num(average), "median": _num(median), "p80": _num(p80), "measured": measured,
        "within": within, "within_share": _share(within, measured),
    }


def _stats(row: dict, prefix: str, durations: rollups.Durations | None) -> dict:
    """One metric's figures (``_times``) from the counters and the durations of ``rollups.read``."""
    measured = row[f"{prefix}_measured"]
    durations = durations or rollups.Durations()
    return _times(row[f"{prefix}_met"], row[f"{prefix}_breached"],
                  row[f"{prefix}_sum"] / measured if measured else None,
                  durations.percentile(0.5), durations.percentile(0.8), measured, row[f"{prefix}_within"])


def _names(user_ids: list[int]) -> dict[int, str]:
    """Members' names: one query even for no one (the dashboard's query count stays fixed)."""
    User = get_user_model()
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, first_name, last_name, email FROM {User._meta.db_table} WHERE id = ANY(%s)",
                    [user_ids])
        return {pk: f"{first} {last}".strip() or email for pk, first, last, email in cur.fetchall()}


def compute(organization: Organization, f: DashboardFilters, *, now: datetime, time_zone: str,
            period_data: rollups.Period | None = None) -> dict:
    """``period_data``: ``rollups.read`` of the same filters, when the caller shares it with the per-team table."""
    today = local_today(organization, now)  # time_zone is the organization's (a saved report records it)

    def day(d: date) -> datetime:
        return local_day_start(d, time_zone)

    params = {
        "org": organization.pk, "agent": f.agent, "channel": f.channel, "priority": f.priority, "tag": f.tag,
        "company": f.company,
        "team": f.team,
        "tz": time_zone, "now": now, "active": list(ACTIVE),
        "d0": day(today), "d2": day(today - timedelta(days=2)), "d6": day(today - timedelta(days=6)),
        "start": day(f.start), "end": day(f.end + timedelta(days=1)),
        "first_target": FIRST_RESPONSE_TARGET, "resolution_target": RESOLUTION_TARGET,
        "later_target": LATER_REPLY_TARGET, "comments": COMMENTS,
    }
    where = _where(f)
    with connection.cursor() as cur:
        results = []
        for sql in (_TODAY, _COMMENTS):
            cur.execute(sql.format(where=where), params)
            results.append(cur.fetchall())
    today_rows, comment_rows = results
    # The period: the built days from the rollups, the others live (sla.dashboard.rollups).
    pd = period_data or rollups.read(organization, f, time_zone=time_zone)
    base = f.list_params()
    period = {"start": f.start.isoformat(), "end": f.end.isoformat()}

    # --- the day at a glance
    status_labels = dict(Status.choices)
    backlog = dict.fromkeys(ACTIVE, 0)
    sums = [0] * 10
    for status, *counts in today_rows:  # one row per open status, and one without (the other parts)
        if status in backlog:
            backlog[status] = counts[0]
        sums = [a + b for a, b in zip(sums, counts, strict=True)]
    total, age0, age1, age2, age3, new_today, urgent, at_risk, breached, resolved_today = sums
    iso = date.isoformat
    day_figures = {
        "date": iso(today),
        "backlog": total,
        "backlog_href": _href(base, status="active"),
        "by_status": [{"status": s, "label": str(status_labels[s]), "n": backlog[s], "href": _href(base, status=s)}
                      for s in ACTIVE],
        "by_age": [
            {"key": "today", "label": _("Aujourd'hui"), "n": age0,
             "href": _href(base, status="active", created_from=iso(today))},
            {"key": "1-2", "label": _("1 à 2 jours"), "n": age1,
             "href": _href(base, status="active", created_from=iso(today - timedelta(days=2)),
                           created_to=iso(today - timedelta(days=1)))},
            {"key": "3-6", "label": _("3 à 6 jours"), "n": age2,
             "href": _href(base, status="active", created_from=iso(today - timedelta(days=6)),
                           created_to=iso(today - timedelta(days=3)))},
            {"key": "7+", "label": _("7 jours et plus"), "n": age3,
             "href": _href(base, status="active", created_to=iso(today - timedelta(days=7)))},
        ],
        "new_today": new_today, "new_today_href": _href(base, created_from=iso(today)),
        "urgent": urgent, "urgent_href": _href({**base, "priority": "urgent"}, status="active"),
        "at_risk": at_risk, "at_risk_href": _href(base, sla="due_soon", sort="due"),
        "breached": breached, "breached_href": _href(base, sla="overdue", sort="due"),
        "resolved_today": resolved_today, "resolved_today_href": _href(base, resolved_from=iso(today)),
    }

    # --- opened and closed per week (every week of the period, even empty ones)
    by_week: dict[date, tuple[int, int]] = {}
    for d, row in pd.days.items():
        monday = d - timedelta(days=d.weekday())
        opened, closed = by_week.get(monday, (0, 0))
        by_week[monday] = (opened + row["created"], closed + row["closed"])
    weeks = []
    monday = f.start - timedelta(days=f.start.weekday())
    while monday <= f.end:
        first, last = max(monday, f.start), min(monday + timedelta(days=6), f.end)
        opened, closed = by_week.get(monday, (0, 0))
        weeks.append({
            "week": iso(monday), "opened": opened, "closed": closed,
            "opened_href": _href(base, created_from=iso(first), created_to=iso(last)),
            "closed_href": _href(base, resolved_from=iso(first), resolved_to=iso(last)),
        })
        monday += timedelta(days=7)

    # --- tickets of the period: per agent (the one credited), first-contact resolution, SLA, satisfaction
    agents: dict[int | None, dict] = {}
    keys = ("created", "resolved", "open", "replied", "first_contact")
    totals = dict.fromkeys(rollups.COUNTERS, 0)
    distribution = dict.fromkeys(range(1, 6), 0)
    for agent_id, row in pd.agents.items():
        for key in rollups.COUNTERS:
            totals[key] += row[key]
        if not (row["created"] or row["fr_n"] or row["res_n"] or row["csat_n"]):
            continue  # credited with closures only (of tickets created before the period) or later replies
        agents[agent_id] = {key: row[key] for key in keys}
        for metric, prefix in (("first_response", "fr"), ("resolution", "res")):
            agents[agent_id][metric] = _stats(row, prefix, pd.durations.get((metric, agent_id)))
        if row["csat_n"]:
            agents[agent_id]["csat"] = {"n": row["csat_n"], "average": _num(
                sum(k * row[f"csat_{k}"] for k in range(1, 6)) / row["csat_n"], 2)}
    for k in range(1, 6):
        distribution[k] = totals[f"csat_{k}"]
    whole = {metric: rollups.Durations() for metric in ("first_response", "resolution")}
    for (metric, _agent), durations in pd.durations.items():
        if metric in whole:
            whole[metric].add(durations)
    first_response = _stats(totals, "fr", whole["first_response"])
    resolution = _stats(totals, "res", whole["resolution"])

    later_durations = pd.durations.get(("later", None)) or rollups.Durations()
    measured = totals["later_measured"]
    later = {"measured": measured,
             "average": _num(totals["later_sum"] / measured) if measured else None,
             "median": _num(later_durations.percentile(0.5)), "p80": _num(later_durations.percentile(0.8)),
             "within": totals["later_within"], "within_share": _share(totals["later_within"], measured)}

    rated = sum(distribution.values())
    happy = distribution[4] + distribution[5]
    satisfaction = {
        "count": rated,
        "average": round(sum(s * n for s, n in distribution.items()) / rated, 2) if rated else None,
        "distribution": [{"score": s, "n": n, "share": _share(n, rated)} for s, n in distribution.items()],
        "happy": happy, "happy_share": _share(happy, rated),
        "comments": [{"number": number, "score": score, "comment": comment[:500], "at": at.isoformat()}
                     for number, score, comment, at in comment_rows],
    }

    fcr = {"replied": totals["replied"], "first_contact": totals["first_contact"],
           "rate": _share(totals["first_contact"], totals["replied"])}

    def mark(value, target, *, below: bool) -> bool | None:
        if value is None:
            return None
        return value < target if below else value >= target

    objectives = [
        {"key": "first_response", "label": _("Première réponse"), "target": _("moyenne < 2 h ouvrées"),
         "value": first_response["average"], "unit": "business",
         "met": mark(first_response["average"], FIRST_RESPONSE_TARGET, below=True)},
        {"key": "later_reply", "label": _("Réponses suivantes"), "target": _("moyenne < 4 h"),
         "value": later["average"], "unit": "duration",
         "met": mark(later["average"], LATER_REPLY_TARGET, below=True)},
        {"key": "resolution", "label": _("Résolution en moins de 24 h ouvrées"), "target": _("≥ 80 % des tickets"),
         "value": resolution["within_share"], "unit": "percent",
         "met": mark(resolution["within_share"], RESOLUTION_SHARE, below=False)},
        {"key": "first_contact", "label": _("Résolus au premier contact"), "target": _("> 90 %"),
         "value": fcr["rate"], "unit": "percent",
         "met": None if fcr["rate"] is None else fcr["rate"] > FIRST_CONTACT_SHARE},
    ]

    names = _names([a for a in agents if a])
    empty = _times()
    agent_rows = []
    for agent_id, row in agents.items():
        replied = row.get("replied", 0)
        agent_rows.append({
            "agent_id": agent_id,
            "name": names.get(agent_id, _("(non assigné)")) if agent_id else _("(non assigné)"),
            "created": row.get("created", 0), "resolved": row.get("resolved", 0), "open": row.get("open", 0),
            "first_contact_rate": _share(row.get("first_contact", 0), replied),
            "first_response": row.get("first_response", empty), "resolution": row.get("resolution", empty),
            "csat": row.get("csat", {"n": 0, "average": None}),
            "href": _href({**base, "assignee": str(agent_id) if agent_id else "none"},
                          created_from=period["start"], created_to=period["end"]),
        })
    agent_rows.sort(key=lambda r: (r["agent_id"] is None, r["name"].lower()))

    return {
        "time_zone": time_zone,
        "generated_at": now.isoformat(),
        "period": period,
        "filters": f.as_params(),
        "today": day_figures,
        "weeks": weeks,
        "opened": totals["created"],
        "opened_href": _href(base, created_from=period["start"], created_to=period["end"]),
        "closed": sum(w["closed"] for w in weeks),
        "closed_href": _href(base, resolved_from=period["start"], resolved_to=period["end"]),
        "first_response": first_response,
        "resolution": resolution,
        "later_reply": later,
        "first_contact": fcr,
        "satisfaction": satisfaction,
        "objectives": objectives,
        "agents": agent_rows,
    }
