from django import template
from django.utils.translation import gettext as _

from tickets.models import Priority, Status

register = template.Library()


@register.filter
def status_label(code: str) -> str:
    try:
        return Status(code).label
    except ValueError:
        return code


@register.filter
def priority_label(code: str) -> str:
    try:
        return Priority(code).label
    except ValueError:
        return code


@register.filter
def initials(user) -> str:
    if user is None:
        return "LD"
    name = (getattr(user, "get_full_name", lambda: "")() or getattr(user, "email", "") or "?").split()
    return "".join(p[0] for p in name[:2]).upper()


@register.filter
def reason_label(reason: str) -> str:
    return {
        "customer_reply": _("réponse du client"),
        "first_reply": _("première réponse"),
        "auto_close_resolved": _("fermeture automatique"),
        "no_reply": _("faute de réponse"),
    }.get(reason, "")
