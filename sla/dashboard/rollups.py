"""The dashboard's period figures from per-day rollups, with the days not rolled up computed live (issue 20).

Contract:
- A past day of an organization (its local date in the organization's time zone) is *built*: its counts are
  stored in ``DashboardCell`` rows and its durations in ``DashboardHistogram`` rows, each once per (assignee,
  credited agent) whatever the channel and priority ('*': what most views read, a dozen rows a day) and once per
  (assignee, credited agent, channel, priority) for those two filters; a ``DashboardDay`` row says it is built,
  for which time zone. The credited agent is
  the one the per-agent table credits: the assignee for the ticket counts, the outcome's agent, the rating's agent.
- Today, the days not built yet and the days changed since (``DashboardDirtyDay``, written by the database
  triggers of migration sla 0006 in the transaction of the change, whatever the channel) are computed live by
  the same SQL that builds a day, so every count and sum is the live one: the figures are never stale.
- The agent, team, channel and priority filters read the rollups (a team: its active members' tickets as
  assignees, read at query time as the live figures do). The tag and company filters read every day live (a
  ticket has many tags; a customer changes company): slower over long periods, exact.
- Counts, sums, averages, compliance and the shares within a target are exact. Medians and 80th percentiles read
  the built days' durations in log-spaced buckets, 16 per doubling: a duration is counted at the geometric middle
  of its bucket, at most 2.2 % from its true value (durations under one second count as 0), so a percentile is
  within 2.2 % of the exact one; the live days' durations are read exactly (a period with no built day gives
  PostgreSQL's ``percentile_cont`` exactly).
- Three queries read a period (``read``: the built days, the counts, the durations), whatever its length and
  the data size. ``build`` writes days (the Celery
  task ``sla.tasks.refresh_dashboard_rollups`` every five minutes; ``manage.py dashboard_rollups`` for history).
  A day is built once it ended ``GRACE`` ago (a transaction begun before midnight has committed by then).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from lumiodesk import teams
from lumiodesk.models import Organization
from tickets.selectors import ACTIVE, local_day_start

from .filters import FIRST_RESPONSE_TARGET, LATER_REPLY_TARGET, RESOLUTION_TARGET, DashboardFilters, _where

BUCKETS_PER_DOUBLING = 16
NB = BUCKETS_PER_DOUBLING * 32 + 1  # bucket 0: under one second; the last one: 2^32 s and more
# A bucket's value: its geometric middle (bucket k >= 1 holds [2^((k-1)/16), 2^(k/16)) seconds).
REPRESENTATIVE = np.concatenate(([0.0], 2.0 ** ((np.arange(1, NB) - 0.5) / BUCKETS_PER_DOUBLING)))
MAX_ERROR = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1  # 2.2 %
GRACE = timedelta(minutes=15)
HISTORY_DAYS = 366  # the dashboard's longest period (figures.MAX_DAYS)
CHUNK_DAYS = 31  # days built per transaction
# What a built day's rows mean. Raise it in a release that changes what the build writes (a counter's definition,
# the buckets): days built by another version are read live, then built again by the refresh (DashboardDay.version).
VERSION = 1
# pg_try_advisory_xact_lock(LOCK_CLASS, organization id): one build of an organization's days at a time (the beat
# task and `manage.py dashboard_rollups` running together skip each other's organization instead of doing the
# work twice and failing to serialize).
LOCK_CLASS = 20_0006
ALL = "*"  # the histogram rows whatever the channel and priority

COUNTERS = ("created", "resolved", "open", "replied", "first_contact", "closed",
            "fr_n", "fr_met", "fr_breached", "fr_sum", "fr_measured", "fr_within",
            "res_n", "res_met", "res_breached", "res_sum", "res_measured", "res_within",
            "later_measured", "later_sum", "later_within",
            "csat_n", "csat_1", "csat_2", "csat_3", "csat_4", "csat_5")


def _part(exprs: dict[str, str]) -> str:
    return ", ".join(f"{exprs.get(c, '0')} AS {c}" for c in COUNTERS)


def _case(condition: str, value: str = "1") -> str:
    return f"CASE WHEN {condition} THEN {value} ELSE 0 END"


def _outcome_exprs(prefix: str, metric: str, target: str) -> dict[str, str]:
    m = f"o.metric = '{metric}'"
    return {
        f"{prefix}_n": _case(m),
        f"{prefix}_met": _case(f"{m} AND o.achieved_at IS NOT NULL AND NOT o.breached"),
        f"{prefix}_breached": _case(f"{m} AND o.breached"),
        f"{prefix}_sum": _case(f"{m} AND o.business_seconds IS NOT NULL", "o.business_seconds"),
        f"{prefix}_measured": _case(f"{m} AND o.business_seconds IS NOT NULL"),
        f"{prefix}_within": _case(f"{m} AND o.business_seconds <= {target}"),
    }


# Later replies (elapsed time): the messages after the first reply of the tickets the customer wrote to again (the
# ticket row says so: no message read for the others), by index message_ticket_idx, cut into turns that end with
# one of our public replies; a turn that starts with a customer message measures the time we took.
_TURNS = """
SELECT (t.created_at AT TIME ZONE %(tz)s)::date AS day, t.assignee_id, t.channel, t.priority,
       extract(epoch FROM min(s.created_at) FILTER (WHERE s.kind = 'reply')
                          - min(s.created_at) FILTER (WHERE s.kind = 'customer')) AS seconds
FROM tickets_ticket t
CROSS JOIN LATERAL (
    SELECT m.kind, m.created_at,
           coalesce(count(*) FILTER (WHERE m.kind = 'reply') OVER (
               ORDER BY m.created_at, m.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS turn
    FROM tickets_message m
    WHERE m.ticket_id = t.id AND m.created_at > t.first_response_at AND m.kind IN ('customer', 'reply')
) s
WHERE t.organization_id = %(org)s AND {t_created} AND t.last_customer_message_at > t.first_response_at {where}
GROUP BY t.id, s.turn
"""

# The live days are given as ranges of instants (``_ranges``: contiguous days make one range), so that PostgreSQL
# estimates each part from its statistics (as a join to a list of days, it planned seq scans of every ticket).
_COUNT_PARTS = f"""
SELECT (t.created_at AT TIME ZONE %(tz)s)::date AS day, t.assignee_id AS assignee, t.assignee_id AS agent,
       t.channel, t.priority, {_part({
    "created": "1",
    "resolved": _case("t.resolved_at IS NOT NULL"),
    "open": _case("t.status = ANY(%(active)s)"),
    "replied": _case("t.resolved_at IS NOT NULL AND t.first_response_at IS NOT NULL"),
    "first_contact": _case("t.resolved_at IS NOT NULL AND t.first_response_at IS NOT NULL"
                           " AND NOT t.last_customer_message_at > t.first_response_at"),
})}
FROM tickets_ticket t
WHERE t.organization_id = %(org)s AND {{t_created}} {{where}}
UNION ALL
SELECT (t.resolved_at AT TIME ZONE %(tz)s)::date, t.assignee_id, t.assignee_id, t.channel, t.priority,
       {_part({"closed": "1"})}
FROM tickets_ticket t
WHERE t.organization_id = %(org)s AND {{t_resolved}} {{where}}
UNION ALL
SELECT (o.ticket_created_at AT TIME ZONE %(tz)s)::date, {{o_dims}}, {_part({
    **_outcome_exprs("fr", "first_response", "%(first_target)s"),
    **_outcome_exprs("res", "resolution", "%(resolution_target)s"),
})}
FROM sla_slaoutcome o {{o_join}}
WHERE o.organization_id = %(org)s AND {{o_created}} {{o_where}}
UNION ALL
SELECT (t.created_at AT TIME ZONE %(tz)s)::date, t.assignee_id, s.agent_id, t.channel, t.priority, {_part({
    "csat_n": "1", **{f"csat_{k}": _case(f"s.score = {k}") for k in range(1, 6)}})}
FROM tickets_ticket t
CROSS JOIN LATERAL (  -- by its unique index on ticket_id (as a join, PostgreSQL read every rating; LIMIT 1, one
                      -- a ticket, keeps the subquery from being flattened into that join)
    SELECT s.agent_id, s.score FROM crm_satisfactionrating s WHERE s.ticket_id = t.id AND s.organization_id = %(org)s
    LIMIT 1
) s
WHERE t.organization_id = %(org)s AND {{t_created}} {{where}}
UNION ALL
SELECT x.day, x.assignee_id, x.assignee_id, x.channel, x.priority, {_part({
    "later_measured": "1", "later_sum": "x.seconds", "later_within": _case("x.seconds <= %(later_target)s")})}
FROM ({_TURNS}) x
WHERE x.seconds IS NOT NULL
"""

_VALUE_PARTS = f"""
SELECT (o.ticket_created_at AT TIME ZONE %(tz)s)::date AS day, {{o_dims}}, o.metric, o.business_seconds::float8 AS v
FROM sla_slaoutcome o {{o_join}}
WHERE o.organization_id = %(org)s AND {{o_created}} AND o.business_seconds IS NOT NULL {{o_where}}
UNION ALL
SELECT x.day, x.assignee_id, x.assignee_id, x.channel, x.priority, 'later', x.seconds::float8
FROM ({_TURNS}) x
WHERE x.seconds IS NOT NULL
"""

# Reading a period: the built days (for the time zone in force, not changed since), then the rollups of those days
# and the others live.
_BUILT = """
SELECT m.day FROM sla_dashboardday m
WHERE m.organization_id = %(org)s AND m.time_zone = %(tz)s AND m.version = %(version)s
  AND m.day >= %(first)s AND m.day <= %(last)s
  AND NOT EXISTS (SELECT 1 FROM sla_dashboarddirtyday x WHERE x.organization_id = %(org)s AND x.day = m.day)
"""

_SUMS = ", ".join(f"sum({c})" for c in COUNTERS)

_READ_COUNTS = f"""
SELECT y.day, y.agent, GROUPING(y.day), {_SUMS}
FROM (
    SELECT c.day, c.agent_id AS agent, {", ".join(f"c.{c}" for c in COUNTERS)}
    FROM sla_dashboardcell c
    WHERE c.organization_id = %(org)s AND c.day >= %(first)s AND c.day <= %(last)s AND c.day = ANY(%(built)s::date[])
      {{cell_where}}
    UNION ALL
    SELECT x.day, x.agent, {", ".join(f"x.{c}" for c in COUNTERS)}
    FROM ({_COUNT_PARTS}) x
) y
GROUP BY GROUPING SETS ((y.day), (y.agent))
"""

_READ_DURATIONS = f"""
SELECT h.metric, h.agent_id, h.first_bucket, h.counts, NULL::float8
FROM sla_dashboardhistogram h
WHERE h.organization_id = %(org)s AND h.day >= %(first)s AND h.day <= %(last)s AND h.day = ANY(%(built)s::date[])
  {{hist_where}}
UNION ALL
SELECT x.metric, x.agent, NULL, NULL, x.v
FROM ({_VALUE_PARTS}) x
"""

_BUILD_COUNTS = f"""
INSERT INTO sla_dashboardcell (organization_id, day, assignee_id, agent_id, channel, priority, {", ".join(COUNTERS)})
SELECT %(org)s, x.day, x.assignee, x.agent,
       CASE WHEN GROUPING(x.channel) = 1 THEN '{ALL}' ELSE x.channel END,
       CASE WHEN GROUPING(x.priority) = 1 THEN '{ALL}' ELSE x.priority END, {_SUMS}
FROM ({_COUNT_PARTS}) x
GROUP BY GROUPING SETS ((x.day, x.assignee, x.agent, x.channel, x.priority), (x.day, x.assignee, x.agent))
"""

_BUILD_DURATIONS = f"""
SELECT x.day, x.metric, x.assignee, x.agent, x.channel, x.priority, GROUPING(x.channel),
       CASE WHEN x.v < 1 THEN 0 ELSE least(1 + floor(ln(x.v) / ln(2) * {BUCKETS_PER_DOUBLING})::int, {NB - 1}) END AS b,
       count(*)
FROM ({_VALUE_PARTS}) x
GROUP BY GROUPING SETS ((x.day, x.metric, x.assignee, x.agent, x.channel, x.priority, b),
                        (x.day, x.metric, x.assignee, x.agent, b))
"""


def _outcomes(where: str, *, joined: bool) -> dict[str, str]:
    """How the outcomes meet their ticket: joined (the filters, or a build: the ticket's assignee, channel and
    priority), or not (an unfiltered read groups by the outcome's agent alone: the few spam tickets are left out by
    id, index ticket_spam_idx; joined, PostgreSQL read every ticket of the organization)."""
    if joined:
        return {"o_dims": "t.assignee_id AS assignee, o.agent_id AS agent, t.channel, t.priority",
                "o_join": "JOIN tickets_ticket t ON t.id = o.ticket_id", "o_where": where}
    return {"o_dims": "NULL::int AS assignee, o.agent_id AS agent, ''::varchar AS channel, ''::varchar AS priority",
            "o_join": "",
            "o_where": " AND o.ticket_id <> ALL(ARRAY(SELECT s.id FROM tickets_ticket s"
                       " WHERE s.organization_id = %(org)s AND s.spam_at IS NOT NULL))"}


def _ranges(days: list[date], time_zone: str) -> tuple[dict[str, str], dict[str, datetime]]:
    """The days as ranges of instants (contiguous days: one range): the SQL conditions on each column, and their
    parameters. No day: a condition always false."""
    runs: list[list[date]] = []
    for d in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == d:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    p = {}
    for i, (first, last) in enumerate(runs):
        p[f"live{i}_s"] = local_day_start(first, time_zone)
        p[f"live{i}_e"] = local_day_start(last + timedelta(days=1), time_zone)

    def condition(column: str) -> str:
        if not runs:
            return "false"
        return "(" + " OR ".join(f"({column} >= %(live{i}_s)s AND {column} < %(live{i}_e)s)"
                                 for i in range(len(runs))) + ")"

    return {"t_created": condition("t.created_at"), "t_resolved": condition("t.resolved_at"),
            "o_created": condition("o.ticket_created_at")}, p


def _cell_where(f, alias: str) -> str:
    """The filters the rollups serve, on a rollup row (its assignee, channel, priority)."""
    sql = ""
    if f.agent:
        sql += f" AND {alias}.assignee_id = %(agent)s"
    if f.team:
        sql += (f" AND {alias}.assignee_id = ANY(ARRAY(SELECT tm.user_id FROM ({teams.MEMBERS_SQL}) tm"
                " WHERE tm.team_id = %(team)s))")
    if f.channel:
        sql += f" AND {alias}.channel = %(channel)s"
    if f.priority:
        sql += f" AND {alias}.priority = %(priority)s"
    return sql


def _rows_where(f, alias: str) -> str:
    """The filters on rollup rows: without a channel or a priority, the rows whatever both ('*'); else the rows of
    one channel and one priority."""
    sql = _cell_where(f, alias)
    if not (f.channel or f.priority):
        return sql + f" AND {alias}.channel = '{ALL}'"
    if not f.channel:
        sql += f" AND {alias}.channel <> '{ALL}'"
    if not f.priority:
        sql += f" AND {alias}.priority <> '{ALL}'"
    return sql


# --- reading -----------------------------------------------------------------------------------------------------


@dataclass
class Durations:
    """The durations of a group: bucket counts (built days) and exact values (live days)."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(NB, dtype=np.int64))
    values: list[float] = field(default_factory=list)

    def add(self, other: Durations) -> None:
        self.counts += other.counts
        self.values.extend(other.values)

    def percentile(self, p: float) -> float | None:
        """PostgreSQL's ``percentile_cont(p)`` over the durations, a bucket's durations at its middle."""
        exact = np.sort(np.asarray(self.values, dtype=np.float64))
        n = int(self.counts.sum()) + len(exact)
        if n == 0:
            return None
        if self.counts.any():
            nz = np.nonzero(self.counts)[0]
            values = np.concatenate((REPRESENTATIVE[nz], exact))
            weights = np.concatenate((self.counts[nz], np.ones(len(exact), dtype=np.int64)))
            order = np.argsort(values, kind="stable")
            values, cumulative = values[order], np.cumsum(weights[order])
        else:
            values, cumulative = exact, np.arange(1, n + 1)
        position = p * (n - 1)
        low = math.floor(position)

        def nth(k: int) -> float:  # the k-th smallest (from 0)
            return float(values[int(np.searchsorted(cumulative, k + 1))])

        first = nth(low)
        if position == low:
            return first
        return first + (nth(low + 1) - first) * (position - low)


@dataclass
class Period:
    """What ``read`` returns: per day (opened, closed), per credited agent (every counter), the durations."""

    days: dict[date, dict[str, int]]
    agents: dict[int | None, dict]
    durations: dict[tuple[str, int | None], Durations]


def params(organization: Organization, f, *, time_zone: str) -> dict:
    return {
        "org": organization.pk, "agent": f.agent, "channel": f.channel, "priority": f.priority, "tag": f.tag,
        "company": f.company, "team": f.team, "tz": time_zone, "active": list(ACTIVE),
        "first": f.start, "last": f.end, "version": VERSION,
        "first_target": FIRST_RESPONSE_TARGET, "resolution_target": RESOLUTION_TARGET,
        "later_target": LATER_REPLY_TARGET,
        # A ticket has many tags and a customer changes company: those filters read every day live.
        "use_rollups": not (f.tag or f.company),
    }


def read(organization: Organization, f, *, time_zone: str) -> Period:
    """The period's counts and durations: three queries, whatever the period and the data size."""
    p = params(organization, f, time_zone=time_zone)
    where = _where(f)
    with connection.cursor() as cur:
        cur.execute(_BUILT, p)  # (read even when unused: the same number of queries whatever the filters)
        built = [day for (day,) in cur.fetchall()] if p["use_rollups"] else []
        period = [f.start + timedelta(days=i) for i in range((f.end - f.start).days + 1)]
        live, ranges = _ranges(sorted(set(period) - set(built)), time_zone)
        p.update(ranges, built=built)
        live.update(_outcomes(where, joined=f.filtered))
        cur.execute(_READ_COUNTS.format(where=where, cell_where=_rows_where(f, "c"), **live), p)
        count_rows = cur.fetchall()
        cur.execute(_READ_DURATIONS.format(where=where, hist_where=_rows_where(f, "h"), **live), p)
        duration_rows = cur.fetchall()
    days, agents = {}, {}
    for day, agent, by_agent, *sums in count_rows:
        row = dict(zip(COUNTERS, sums, strict=True))
        if by_agent:
            agents[agent] = row
        else:
            days[day] = {"created": row["created"], "closed": row["closed"]}
    durations: dict[tuple[str, int | None], Durations] = defaultdict(Durations)
    blobs: dict[tuple[str, int | None], list[bytes]] = defaultdict(list)
    firsts: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for metric, agent, first_bucket, counts, value in duration_rows:
        key = (metric, None if metric == "later" else agent)
        if counts is None:
            durations[key].values.append(value)
        else:
            blobs[key].append(bytes(counts))
            firsts[key].append(first_bucket)
    for key, parts in blobs.items():  # each group's histograms added at once (a slice per row: 90 ms a year)
        counts = np.frombuffer(b"".join(parts), dtype="<u4")
        lengths = np.fromiter((len(b) // 4 for b in parts), dtype=np.int64, count=len(parts))
        offsets = np.asarray(firsts[key], dtype=np.int64) - (np.cumsum(lengths) - lengths)
        buckets = np.repeat(offsets, lengths) + np.arange(len(counts))
        durations[key].counts += np.bincount(buckets, weights=counts, minlength=NB).astype(np.int64)
    return Period(days=days, agents=agents, durations=dict(durations))


# --- building ----------------------------------------------------------------------------------------------------


def build(organization_id: int, days: list[date], *, time_zone: str, now: datetime | None = None) -> int:
    """Build (or build again) these past days of the organization, in one transaction; the days' dirty marks
    that this transaction sees are removed (a change committed meanwhile keeps its mark: built again later).
    Returns the number of days built: 0 when another build of this organization is under way (its lock)."""
    if not days:
        return 0
    p = {"org": organization_id, "tz": time_zone, "days": list(days), "active": list(ACTIVE),
         "first_target": FIRST_RESPONSE_TARGET, "resolution_target": RESOLUTION_TARGET,
         "later_target": LATER_REPLY_TARGET}
    where = _where(DashboardFilters(start=min(days), end=max(days)))
    live, ranges = _ranges(days, time_zone)
    live.update(_outcomes(where, joined=True))
    p.update(ranges)
    if connection.in_atomic_block:  # (a caller's transaction, the tests': its isolation, a lock held to its end)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_CLASS, organization_id])
            if not cur.fetchone()[0]:
                return 0  # another build of this organization holds it: its days are left to that one
        return _build(p, where, live, days, organization_id, now, snapshot=False)
    # The lock is taken before the transaction's snapshot, so the snapshot sees what a build that just ended wrote.
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, organization_id])
        if not cur.fetchone()[0]:
            return 0
    try:
        return _build(p, where, live, days, organization_id, now, snapshot=True)
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, organization_id])


def _build(p: dict, where: str, live: dict, days: list[date], organization_id: int, now: datetime | None, *,
           snapshot: bool) -> int:
    with transaction.atomic(), connection.cursor() as cur:
        if snapshot:  # one snapshot for the reads and the removal of the dirty marks
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for table in ("sla_dashboardday", "sla_dashboardcell", "sla_dashboardhistogram"):
            cur.execute(f"DELETE FROM {table} WHERE organization_id = %(org)s AND day = ANY(%(days)s::date[])", p)
        cur.execute(_BUILD_COUNTS.format(where=where, **live), p)
        cur.execute(_BUILD_DURATIONS.format(where=where, **live), p)
        histograms = _pack(cur.fetchall())
        with cur.copy(
                "COPY sla_dashboardhistogram (organization_id, day, metric, assignee_id, agent_id, channel, priority,"
                " first_bucket, counts) FROM STDIN") as copy:
            for key, (first_bucket, counts) in histograms.items():
                copy.write_row((organization_id, *key, first_bucket, counts))
        cur.execute("INSERT INTO sla_dashboardday (organization_id, day, time_zone, version, built_at)"
                    " SELECT %(org)s, d, %(tz)s, %(version)s, %(now)s FROM unnest(%(days)s::date[]) d",
                    {**p, "version": VERSION, "now": now or timezone.now()})
        # The dirty marks last: a change to these days meanwhile waits for this build only at its very end (its
        # mark's row lock), and one committed meanwhile makes this DELETE fail to serialize (the mark stays).
        cur.execute("DELETE FROM sla_dashboarddirtyday WHERE organization_id = %(org)s"
                    " AND day = ANY(%(days)s::date[])", p)
    return len(days)


def _pack(rows) -> dict[tuple, tuple[int, bytes]]:
    buckets: dict[tuple, dict[int, int]] = defaultdict(dict)
    for day, metric, assignee, agent, channel, priority, all_channels, bucket, n in rows:
        key = (day, metric, assignee, agent, ALL, ALL) if all_channels else (day, metric, assignee, agent, channel,
                                                                             priority)
        buckets[key][bucket] = n
    packed = {}
    for key, counts in buckets.items():
        low, high = min(counts), max(counts)
        array = np.zeros(high - low + 1, dtype="<u4")
        for b, n in counts.items():
            array[b - low] = n
        packed[key] = (low, array.tobytes())
    return packed


_DUE = """
SELECT o.id, o.time_zone, array_agg(d.day ORDER BY d.day DESC)
FROM lumiodesk_organization o
CROSS JOIN LATERAL (SELECT ((%(now)s::timestamptz - %(grace)s::interval) AT TIME ZONE o.time_zone)::date AS last) l
CROSS JOIN LATERAL generate_series(l.last - %(history)s, l.last - 1, interval '1 day') g
CROSS JOIN LATERAL (SELECT g::date AS day) d
WHERE (%(org)s::bigint IS NULL OR o.id = %(org)s)
  AND (NOT EXISTS (SELECT 1 FROM sla_dashboardday m
                   WHERE m.organization_id = o.id AND m.day = d.day AND m.time_zone = o.time_zone
                     AND m.version = %(version)s)
       OR EXISTS (SELECT 1 FROM sla_dashboarddirtyday x WHERE x.organization_id = o.id AND x.day = d.day))
GROUP BY o.id, o.time_zone
"""

_PRUNE = """
DELETE FROM {table} r USING lumiodesk_organization o
WHERE o.id = r.organization_id AND (%(org)s::bigint IS NULL OR o.id = %(org)s)
  AND r.day < ((%(now)s::timestamptz AT TIME ZONE o.time_zone)::date - %(keep)s)
"""


def refresh(*, now: datetime | None = None, organization_id: int | None = None, max_days: int | None = None,
            out=None) -> int:
    """Build the past days not built yet (or built for another time zone) and the days changed since, most
    recent first, at most ``max_days`` per organization (the Celery task's budget; the command: all)."""
    now = now or timezone.now()
    p = {"now": now, "grace": GRACE, "history": HISTORY_DAYS, "org": organization_id, "keep": HISTORY_DAYS + 7,
         "version": VERSION}
    with connection.cursor() as cur:
        for table in ("sla_dashboardday", "sla_dashboardcell", "sla_dashboardhistogram", "sla_dashboarddirtyday"):
            cur.execute(_PRUNE.format(table=table), p)  # days the dashboard no longer reads
        cur.execute("DELETE FROM sla_dashboarddirtyday x WHERE NOT EXISTS"
                    " (SELECT 1 FROM lumiodesk_organization o WHERE o.id = x.organization_id)")  # organizations gone
        cur.execute(_DUE, p)
        due = cur.fetchall()
    built = 0
    for org_id, time_zone, days in due:
        days = days[:max_days] if max_days else days
        for i in range(0, len(days), CHUNK_DAYS):  # a transaction per chunk of days (a batch job, not a page)
            try:
                n = build(org_id, days[i:i + CHUNK_DAYS], time_zone=time_zone, now=now)
            except OperationalError as exc:  # a change to those days committed during the build (migration sla 0006),
                # or a deadlock with a change marking the same days: their marks stay, built again on the next run
                if getattr(exc.__cause__, "sqlstate", None) not in ("40001", "40P01"):
                    raise
                break  # their marks stay: built again on the next run
            if not n:
                break  # another build of this organization is under way: its days are left to it
            built += n
            if out:
                out(f"organization {org_id}: {built} days built")
    return built


def local_today(time_zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(time_zone)).date()
