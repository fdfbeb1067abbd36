"""What the dashboard's page and its PDF show of the figures: the charts' geometry and the rows of the
"day at a glance" (pure: no query; the same for the live page and a saved report)."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from . import charts


def presentation_context(data: dict) -> dict:
    today = data["today"]
    satisfaction = data["satisfaction"]
    return {
        "data": data,
        # Dates as dates, so the template writes them the reader's way (10/03/2025).
        "day": date.fromisoformat(today["date"]),
        "period_start": date.fromisoformat(data["period"]["start"]),
        "period_end": date.fromisoformat(data["period"]["end"]),
        "status_chart": charts.horizontal(
            [{"label": r["label"], "n": r["n"], "href": r["href"], "css": f"st-{r['status']}"}
             for r in today["by_status"]]),
        "age_chart": charts.horizontal(
            [{"label": r["label"], "n": r["n"], "href": r["href"]} for r in today["by_age"]], css="age"),
        "weeks_chart": charts.grouped_columns(data["weeks"]),
        "satisfaction_chart": charts.horizontal(
            [{"label": "★" * r["score"], "n": r["n"], "css": f"score-{r['score']}"}
             for r in reversed(satisfaction["distribution"])]),
        "glance": [
            (_("Tickets ouverts"), today["backlog"], today["backlog_href"], ""),
            (_("Nouveaux aujourd'hui"), today["new_today"], today["new_today_href"], ""),
            (_("Urgents ouverts"), today["urgent"], today["urgent_href"], "warn" if today["urgent"] else ""),
            (_("SLA bientôt dépassés"), today["at_risk"], today["at_risk_href"], "warn" if today["at_risk"] else ""),
            (_("SLA dépassés"), today["breached"], today["breached_href"], "bad" if today["breached"] else ""),
            (_("Résolus aujourd'hui"), today["resolved_today"], today["resolved_today_href"], "good"),
        ],
    }
