from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

from automations.models import DeliveryStatus

register = template.Library()


@register.filter
def timedelta_label(value: timedelta) -> str:
    """1 min, 30 min, 2 h, 15 h."""
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return _("%(n)s min") % {"n": minutes}
    hours, rest = divmod(minutes, 60)
    return _("%(h)s h") % {"h": hours} if not rest else _("%(h)s h %(m)s") % {"h": hours, "m": f"{rest:02d}"}


@register.filter
def delivery_status(value: str) -> str:
    return DeliveryStatus(value).label if value in DeliveryStatus.values else value
