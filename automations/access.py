"""Every automations view loads its objects here: the organization's scope in one place.

The role was checked before (``lumiodesk.access.requires("rules.manage")`` / ``"webhooks.manage"``);
another organization's object is a 404. The ticket journal is read like the ticket (``tickets.access``).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from . import selectors
from .models import AutomationRule, WebhookEndpoint


def get_rule_for(request: HttpRequest, pk: int) -> AutomationRule:
    rule = selectors.get_rule(request.organization, pk)
    if rule is None:
        raise Http404("rule")
    return rule


def get_endpoint_for(request: HttpRequest, pk: int) -> WebhookEndpoint:
    endpoint = selectors.get_endpoint(request.organization, pk)
    if endpoint is None:
        raise Http404("webhook")
    return endpoint
