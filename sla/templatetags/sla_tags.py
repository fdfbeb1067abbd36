from datetime import date

from django import template
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from sla.formatting import duration
from tickets.models import Priority

register = template.Library()


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key) or {}


@register.filter
def business(seconds) -> str:
    """Seconds of business time, as the console writes durations."""
    return duration(seconds)


@register.filter
def percent(value) -> str:
    """93.3 -> "93,3 %" in French, "93.3 %" in English."""
    if value is None:
        return "—"
    return f"{number_format(int(value) if float(value).is_integer() else value)} %"


@register.filter
def priority_label(code: str) -> str:
    try:
        return Priority(code).label
    except ValueError:
        return code


@register.filter
def period_label(iso: str, granularity: str) -> str:
    day = date.fromisoformat(iso)
    if granularity == "month":
        return date_format(day, "F Y")
    if granularity == "week":
        return _("semaine du %(d)s") % {"d": day.strftime("%d/%m/%Y")}
    return day.strftime("%d/%m/%Y")
