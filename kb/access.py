"""Console views load knowledge-base objects only through these helpers: the organization's scope.

The role was checked before (``lumiodesk.access.requires``); another organization's object is a 404.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from . import selectors
from .models import Article, Collection


def get_article_for(request: HttpRequest, pk: int) -> Article:
    """The current organization's article: 404 if it is another organization's."""
    article = selectors.get_article(request.organization, pk)
    if article is None:
        raise Http404("article")
    return article


def get_collection_for(request: HttpRequest, pk: int) -> Collection:
    collection = Collection.objects.filter(organization=request.organization, pk=pk).first()
    if collection is None:
        raise Http404("collection")
    return collection
