"""The knowledge base in the console. Views parse, authorize (kb.access), call kb.services, render."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError, InvalidInput, NotPermitted
from tickets.access import get_ticket_for

from . import assistant as kb_assistant
from . import selectors, services
from .access import get_article_for, get_collection_for
from .forms import ArticleForm, CollectionForm, QuestionForm
from .models import Article, ArticleStatus, Audience
from .search import search_articles
from .selectors import Scope

STATUS_ACTIONS = {
    ArticleStatus.PUBLISHED: gettext_lazy("Publier"),
    ArticleStatus.ARCHIVED: gettext_lazy("Archiver"),
    ArticleStatus.DRAFT: gettext_lazy("Repasser en brouillon"),
}


def _article_page(request: HttpRequest, pk: int, **_kw) -> str:
    return reverse("kb:detail", args=[pk])


def _ticket_page(request: HttpRequest, number: int, **_kw) -> str:
    return reverse("tickets:detail", args=[number])


# --- articles -------------------------------------------------------------------------------------------


@requires("kb.view")
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    org = request.organization
    filters = selectors.ArticleFilters.from_params(request.GET)
    page = Paginator(selectors.console_articles(org, filters), 25).get_page(request.GET.get("page"))
    query = {k: v for k, v in (("status", filters.status), ("collection", filters.collection), ("q", filters.q)) if v}
    context = {
        "filters": filters,
        "page": page,
        "articles": list(page.object_list),
        "counts": selectors.console_counts(org),
        "collections": selectors.collections_of(org),
        "statuses": ArticleStatus.choices,
        "query": urlencode(query),
    }
    if request.htmx and request.htmx.target == "article-list":
        return render(request, "kb/list.html#article-list", context)
    return render(request, "kb/list.html", context)


def _form(request: HttpRequest, organization, initial=None) -> ArticleForm:
    return ArticleForm(request.POST or None, initial=initial, collections=selectors.collections_of(organization))


def _collection(organization, pk):
    return next((c for c in selectors.collections_of(organization) if c.pk == pk), None) if pk else None


@requires("kb.edit")
@require_http_methods(["GET", "POST"])
def article_create(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = _form(request, org, initial={"language": org.language, "audience": Audience.PUBLIC})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            article = services.create_article(
                actor=request.actor, organization=org, title=data["title"], body=data["body"],
                collection=_collection(org, data["collection"]), language=data["language"],
                audience=data["audience"], slug=data["slug"], publish="publish" in request.POST,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Article « %(title)s » enregistré.") % {"title": article.title})
            return redirect("kb:detail", pk=article.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "kb/form.html", {"form": form, "article": None}, status=status)


@requires("kb.view")
@require_GET
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_article_for(request, pk)
    return render(request, "kb/detail.html", _detail_context(request, article))


def _detail_context(request: HttpRequest, article: Article) -> dict:
    can_publish = request.actor.can("kb.publish")
    public_url = None
    if selectors.visible_articles(article.organization).filter(pk=article.pk).exists():
        public_url = reverse("kb_public:article", args=[article.organization.slug, article.slug])
    return {
        "article": article,
        "revisions": selectors.revisions_of(article),
        "can_edit": services.may_edit(request.actor, article),
        "status_actions": [(s, label) for s, label in STATUS_ACTIONS.items() if s != article.status]
        if can_publish else [],
        "public_url": public_url,
        "linked_tickets": selectors.linked_ticket_count(article),
    }


@requires("kb.edit")
@require_http_methods(["GET", "POST"])
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_article_for(request, pk)
    if not services.may_edit(request.actor, article):
        raise NotPermitted(_("Un article publié ou archivé est modifié par un Manager ou un Admin."))
    org = request.organization
    form = _form(request, org, initial={
        "title": article.title, "slug": article.slug, "collection": article.collection_id,
        "language": article.language, "audience": article.audience, "body": article.body,
    })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_article(
                actor=request.actor, article=article, title=data["title"], body=data["body"],
                collection=_collection(org, data["collection"]), language=data["language"],
                audience=data["audience"], slug=data["slug"],
            )
            if "publish" in request.POST and article.status != ArticleStatus.PUBLISHED:
                services.publish_article(actor=request.actor, article=article)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Article enregistré."))
            return redirect("kb:detail", pk=article.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "kb/form.html", {"form": form, "article": article}, status=status)


@requires("kb.publish", back=_article_page)
@require_POST
def article_status(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_article_for(request, pk)
    back = reverse("kb:detail", args=[pk])
    services.change_article_status(actor=request.actor, article=article, status=request.POST.get("status", ""))
    if request.htmx:
        article = get_article_for(request, pk)
        html = render_to_string("kb/detail.html#article-head", _detail_context(request, article), request=request)
        return HttpResponse(html)
    messages.success(request, _("Statut de l'article mis à jour."))
    return redirect(back)


@requires("kb.view")
@require_GET
def revision_detail(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    article = get_article_for(request, pk)
    revision = article.revisions.select_related("author").filter(number=number).first()
    if revision is None:
        raise Http404("revision")
    from .markdown_sections import render as render_body

    return render(request, "kb/revision.html", {
        "article": article, "revision": revision, "body_html": render_body(revision.body).html,
    })


# --- collections ----------------------------------------------------------------------------------------


@requires("kb.view")
@require_GET
def collection_list(request: HttpRequest) -> HttpResponse:
    return render(request, "kb/collections.html", {"collections": selectors.collections_of(request.organization)})


@requires("kb.collections.manage")
@require_http_methods(["GET", "POST"])
def collection_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    collection = get_collection_for(request, pk) if pk else None
    initial = {"name": collection.name, "description": collection.description,
               "visibility": collection.visibility, "position": collection.position} if collection else None
    form = CollectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.save_collection(
                actor=request.actor, organization=request.organization, name=data["name"],
                visibility=data["visibility"], description=data["description"], position=data["position"],
                collection=collection, slug=collection.slug if collection else "",
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Collection enregistrée."))
            return redirect("kb:collections")
    status = 400 if request.method == "POST" else 200
    return render(request, "kb/collection_form.html", {"form": form, "collection": collection}, status=status)


# --- the assistant and search for agents (ticket page, console) -----------------------------------------


@requires("kb.view")
@require_GET
def assistant(request: HttpRequest) -> HttpResponse:
    """The assistant for the team: published articles, internal ones included. On a ticket page, each
    citation of a public article can be inserted in the reply."""
    form = QuestionForm(request.GET)
    question = form.cleaned_data["q"] if form.is_valid() else ""
    ticket = None
    number = request.GET.get("ticket", "")
    if number.isdigit():
        ticket = get_ticket_for(request, int(number))
    answer = kb_assistant.ask(request.organization, question, scope=Scope.TEAM) if question else None
    context = {"answer": answer, "question": question, "ticket": ticket}
    if request.htmx:
        return render(request, "kb/partials/answer.html", context)
    return render(request, "kb/assistant.html", context)


@requires("kb.view")
@require_GET
def agent_search(request: HttpRequest) -> HttpResponse:
    """Published articles for an agent (internal ones too), e.g. to link one to a ticket."""
    q = (request.GET.get("q") or "").strip()[:200]
    hits, _analysis = search_articles(request.organization, q, scope=Scope.TEAM, limit=8) if q else ([], None)
    ticket = None
    number = request.GET.get("ticket", "")
    if number.isdigit():
        ticket = get_ticket_for(request, int(number))
    context = {"hits": hits, "q": q, "ticket": ticket}
    if request.htmx:
        return render(request, "kb/partials/agent_search.html", context)
    return redirect(f"{reverse('kb:list')}?{urlencode({'q': q, 'status': 'published'})}")


def _suggestions_response(request: HttpRequest, ticket) -> HttpResponse:
    context = {"ticket": ticket, "kb_suggestions": selectors.suggestions_for_ticket(ticket)}
    return render(request, "kb/partials/ticket_suggestions.html", context)


@requires("tickets.link_article", back=_ticket_page)
@require_POST
def ticket_link(request: HttpRequest, number: int, pk: int) -> HttpResponse:
    """Link (or, with action=unlink, unlink) an article to a ticket."""
    ticket = get_ticket_for(request, number)
    article = get_article_for(request, pk)
    back = reverse("tickets:detail", args=[number])
    if request.POST.get("action") == "unlink":
        services.unlink_article(actor=request.actor, ticket=ticket, article=article)
    else:
        services.link_article(actor=request.actor, ticket=ticket, article=article)
    if request.htmx:
        return _suggestions_response(request, ticket)
    return redirect(back)


@requires("tickets.reply", back=_ticket_page)
@require_GET
def ticket_insert(request: HttpRequest, number: int, pk: int) -> HttpResponse:
    """HTMX: the reply box with a link to a public article (and a quoted passage) added after what was typed."""
    ticket = get_ticket_for(request, number)
    article = get_article_for(request, pk)
    if not selectors.visible_articles(article.organization).filter(pk=article.pk).exists():
        raise InvalidInput(_("Cet article n'est pas public : il ne peut pas être envoyé au client."))
    anchor = request.GET.get("anchor", "")
    passage = article.passages.filter(anchor=anchor).values_list("text", flat=True).first() if anchor else None
    url = request.build_absolute_uri(reverse("kb_public:article", args=[article.organization.slug, article.slug]))
    if passage:
        url += f"#{anchor}"
    snippet = f"« {passage} »\n{article.title} : {url}" if passage else f"{article.title} : {url}"
    current = request.GET.get("body", "")
    body = f"{current.rstrip()}\n\n{snippet}" if current.strip() else snippet
    if not request.htmx:
        return redirect("tickets:detail", number=ticket.number)
    return render(request, "tickets/detail.html#reply-body", {"body": body})
