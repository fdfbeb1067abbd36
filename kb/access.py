"""Console views load knowledge-base objects only through these helpers (organization and role)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from lumiodesk.access import require_membership

from . import selectors
from .models import Article, Collection


def get_article_for(request: HttpRequest, pk: int, *, write: bool = False) -> Article:
    """The current organization's article: 404 if it is another organization's, 403 for a viewer."""
    membership = require_membership(request)
    article = selectors.get_article(membership.organization, pk)
    if article is None:
        raise Http404("article")
    if write and not membership.can_write:
        raise PermissionDenied("read-only role")
    return article


def get_collection_for(request: HttpRequest, pk: int) -> Collection:
    membership = require_membership(request, manage=True)
    collection = Collection.objects.filter(organization=membership.organization, pk=pk).first()
    if collection is None:
        raise Http404("collection")
    return collection
