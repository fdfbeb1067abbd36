"""The public help center (``/help/<org-slug>/``) and the JSON endpoints of the chat widget.

No login: what is shown is exactly what ``kb.selectors.visible_articles`` lets through (published,
public articles of visible collections). An unknown organization or article answers 404.
"""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from lumiodesk.access import public
from lumiodesk.models import Organization

from . import assistant as kb_assistant
from . import selectors
from .search import search_articles

MAX_QUESTION = 500


def _organization(slug: str) -> Organization:
    org = selectors.public_organization(slug)
    if org is None:
        raise Http404("help center")
    return org


def _base(request: HttpRequest, org: Organization) -> dict:
    return {"org": org, "collections": selectors.public_collections(org)}


@public
@require_GET
def home(request: HttpRequest, org: str) -> HttpResponse:
    organization = _organization(org)
    context = _base(request, organization)
    context["articles"] = selectors.public_articles_of(organization, None)
    return render(request, "kb/help/home.html", context)


@public
@require_GET
def collection(request: HttpRequest, org: str, slug: str) -> HttpResponse:
    organization = _organization(org)
    found = selectors.public_collection(organization, slug)
    if found is None:
        raise Http404("collection")
    articles = selectors.public_articles_of(organization, found)
    if not articles:
        raise Http404("collection")
    context = _base(request, organization) | {"collection": found, "articles": articles}
    return render(request, "kb/help/collection.html", context)


@public
@require_GET
def article(request: HttpRequest, org: str, slug: str) -> HttpResponse:
    organization = _organization(org)
    found = selectors.public_article(organization, slug, translation.get_language())
    if found is None:
        raise Http404("article")
    siblings = [a for a in selectors.public_articles_of(organization, found.collection) if a.pk != found.pk][:8] \
        if found.collection_id else []
    context = _base(request, organization) | {"article": found, "siblings": siblings}
    return render(request, "kb/help/article.html", context)


@public
@require_GET
def search(request: HttpRequest, org: str) -> HttpResponse:
    organization = _organization(org)
    q = (request.GET.get("q") or "").strip()[:200]
    hits, _analysis = search_articles(organization, q) if q else ([], None)
    context = _base(request, organization) | {"q": q, "hits": hits}
    if request.htmx:
        return render(request, "kb/help/search.html#results", context)
    return render(request, "kb/help/search.html", context)


@public
@require_GET
def ask(request: HttpRequest, org: str) -> HttpResponse:
    organization = _organization(org)
    q = " ".join((request.GET.get("q") or "").split())[:MAX_QUESTION]
    answer = kb_assistant.ask(organization, q) if q else None
    context = _base(request, organization) | {"q": q, "answer": answer}
    if request.htmx:
        return render(request, "kb/help/ask.html#answer", context)
    return render(request, "kb/help/ask.html", context)


def _cors(response: HttpResponse) -> HttpResponse:
    """The widget calls these from the customer's own site: public data, no cookies."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Cache-Control"] = "no-store"
    return response


@public
@require_GET
def api_suggest(request: HttpRequest, org: str) -> JsonResponse:
    organization = _organization(org)
    q = (request.GET.get("q") or "").strip()[:120]
    rows = kb_assistant.suggest_articles(organization, q) if q else []
    articles = [{"title": r.title, "url": request.build_absolute_uri(
        reverse("kb_public:article", args=[organization.slug, r.slug]))} for r in rows]
    return _cors(JsonResponse({"articles": articles}))


@public
@csrf_exempt  # read-only: the widget posts the question from another origin, with no session
@require_http_methods(["GET", "POST", "OPTIONS"])
def api_ask(request: HttpRequest, org: str) -> JsonResponse:
    organization = _organization(org)
    if request.method == "OPTIONS":
        return _cors(JsonResponse({}))
    question = request.GET.get("q", "")
    if request.method == "POST":
        if request.content_type == "application/json":
            try:
                payload = json.loads(request.body or b"{}")
            except ValueError:
                return _cors(JsonResponse({"error": "invalid JSON"}, status=400))
            question = str(payload.get("question") or payload.get("q") or "") if isinstance(payload, dict) else ""
        else:
            question = request.POST.get("question") or request.POST.get("q") or ""
    question = " ".join(question.split())[:MAX_QUESTION]
    if not question:
        return _cors(JsonResponse({"error": "question required"}, status=400))

    def absolute(cand) -> str:
        return request.build_absolute_uri(
            reverse("kb_public:article", args=[organization.slug, cand.slug]) + f"#{cand.anchor}")

    answer = kb_assistant.ask(organization, question, url_for=absolute)
    return _cors(JsonResponse(answer.as_json()))
