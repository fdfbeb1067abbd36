"""Every console view loads tickets through these helpers: organization scope and role in one place."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from lumiodesk.access import require_membership

from . import selectors
from .models import Attachment, ReplyTemplate, SavedView, Ticket


def get_ticket_for(request: HttpRequest, number: int, *, write: bool = False) -> Ticket:
    """The current organization's ticket ``number``: 404 if it is another organization's, 403 for a viewer."""
    membership = require_membership(request)
    ticket = selectors.get_ticket(membership.organization, number)
    if ticket is None:
        raise Http404("ticket")
    if write and not membership.can_write:
        raise PermissionDenied("read-only role")
    return ticket


def get_attachment_for(request: HttpRequest, number: int, token: str) -> Attachment:
    membership = require_membership(request)
    att = (
        Attachment.objects.filter(
            organization=membership.organization, token=token, message__ticket__number=number
        ).select_related("message").first()
    )
    if att is None:
        raise Http404("attachment")
    return att


def get_view_for(request: HttpRequest, pk: int) -> SavedView:
    membership = require_membership(request, manage=True)
    view = SavedView.objects.filter(organization=membership.organization, pk=pk).first()
    if view is None:
        raise Http404("view")
    return view


def get_template_for(request: HttpRequest, pk: int, *, manage: bool = False) -> ReplyTemplate:
    membership = require_membership(request, manage=manage)
    template = ReplyTemplate.objects.filter(organization=membership.organization, pk=pk).first()
    if template is None:
        raise Http404("template")
    return template
