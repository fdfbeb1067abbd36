"""Every console view loads tickets through these helpers: the organization's scope in one place.

The role was checked before (``lumiodesk.access.requires``); here another organization's object is a 404.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from . import selectors
from .models import Attachment, ReplyTemplate, SavedView, Ticket


def get_ticket_for(request: HttpRequest, number: int) -> Ticket:
    """The current organization's ticket ``number``: 404 if it is another organization's."""
    ticket = selectors.get_ticket(request.organization, number)
    if ticket is None:
        raise Http404("ticket")
    return ticket


def get_attachment_for(request: HttpRequest, number: int, token: str) -> Attachment:
    att = (
        Attachment.objects.filter(
            organization=request.organization, token=token, message__ticket__number=number
        ).select_related("message").first()
    )
    if att is None:
        raise Http404("attachment")
    return att


def get_view_for(request: HttpRequest, pk: int) -> SavedView:
    view = SavedView.objects.filter(organization=request.organization, pk=pk).first()
    if view is None:
        raise Http404("view")
    return view


def get_template_for(request: HttpRequest, pk: int) -> ReplyTemplate:
    template = ReplyTemplate.objects.filter(organization=request.organization, pk=pk).first()
    if template is None:
        raise Http404("template")
    return template
