import re
from html import unescape

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
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


_CID_SRC = re.compile(r'src="cid:([^"]+)"', re.I)


@register.simple_tag
def message_html(message, url_name: str, *url_args) -> str:
    """The message's sanitized HTML, its inline images (``cid:``) shown from its attachments (prefetched:
    no query) through ``url_name`` with ``url_args`` and the attachment's token: the console's or the portal's
    download."""
    html = message.body_html or ""
    if "cid:" not in html:
        return mark_safe(html)  # noqa: S308 - sanitized when stored (lumiodesk.html_sanitizer)
    by_cid = {a.content_id.lower(): a for a in message.attachments.all() if a.content_id}

    def url(m: re.Match) -> str:
        att = by_cid.get(unescape(m.group(1)).lower())
        if att is None or att.expired_at is not None:  # past the plan's retention: the file is gone
            return 'src=""'
        return f'src="{escape(reverse(url_name, args=[*url_args, att.token]))}"'

    return mark_safe(_CID_SRC.sub(url, html))  # noqa: S308 - sanitized HTML, URLs escaped
