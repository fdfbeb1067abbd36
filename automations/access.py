"""Every automations view loads its objects here: organization scope and role in one place.

Rules and webhook endpoints belong to Admins and Managers: another organization's object is a 404,
any other role a 403. The ticket journal is read like the ticket itself (``tickets.access``).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from lumiodesk.access import require_membership
from lumiodesk.models import Membership

from . import selectors
from .models import AutomationRule, WebhookEndpoint


def require_manager(request: HttpRequest) -> Membership:
    return require_membership(request, manage=True)


def get_rule_for(request: HttpRequest, pk: int) -> AutomationRule:
    membership = require_membership(request)
    rule = selectors.get_rule(membership.organization, pk)
    if rule is None:
        raise Http404("rule")
    if not membership.can_manage:
        raise PermissionDenied("manager role required")
    return rule


def get_endpoint_for(request: HttpRequest, pk: int) -> WebhookEndpoint:
    membership = require_membership(request)
    endpoint = selectors.get_endpoint(membership.organization, pk)
    if endpoint is None:
        raise Http404("webhook")
    if not membership.can_manage:
        raise PermissionDenied("manager role required")
    return endpoint
