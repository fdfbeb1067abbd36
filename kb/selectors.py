"""Reads of the knowledge base.

``visible_articles`` is THE visibility rule. Every path that shows articles to someone outside the
team — the help center (lists, article pages, search), the widget's suggestions, the assistant,
the JSON endpoints, and the suggestions offered on a ticket page (which an agent sends to a
customer) — starts from it:

- only published articles (drafts never; archived ones disappear for customers);
- only public articles (internal ones are for the team);
- only in a visible collection, or in none (a hidden collection hides all its articles).

Agents read everything of their organization through ``console_articles``, archived articles
included ("reste accessible aux agents dans l'historique").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from lumiodesk.models import Organization

from .models import Article, ArticleLink, ArticleRevision, ArticleStatus, Audience, Collection, CollectionVisibility


class Scope:
    PUBLIC = "public"  # customers, anonymous visitors, the widget
    TEAM = "team"  # the assistant for agents: published articles, internal ones and hidden collections too


def visible_articles(organization: Organization, *, scope: str = Scope.PUBLIC) -> QuerySet[Article]:
    qs = Article.objects.filter(organization=organization, status=ArticleStatus.PUBLISHED)
    if scope == Scope.TEAM:
        return qs
    return qs.filter(audience=Audience.PUBLIC).filter(
        Q(collection__isnull=True) | Q(collection__visibility=CollectionVisibility.PUBLIC)
    )


def public_collections(organization: Organization) -> list[Collection]:
    """Visible collections that hold at least one visible article, with their count."""
    visible = visible_articles(organization)
    return list(
        Collection.objects.filter(organization=organization, visibility=CollectionVisibility.PUBLIC)
        .annotate(n_articles=Count("articles", filter=Q(articles__in=visible.values("pk"))))
        .filter(n_articles__gt=0)
        .order_by("position", "name")
    )


def public_collection(organization: Organization, slug: str) -> Collection | None:
    return Collection.objects.filter(
        organization=organization, slug=slug, visibility=CollectionVisibility.PUBLIC
    ).first()


def public_articles_of(organization: Organization, collection: Collection | None) -> list[Article]:
    qs = visible_articles(organization).defer("body", "body_html", "body_text", "search_vector")
    qs = qs.filter(collection=collection) if collection is not None else qs
    return list(qs.select_related("collection").order_by("position", "title"))


def public_article(organization: Organization, slug: str, language: str | None = None) -> Article | None:
    """The visible article with this slug, in the visitor's language when it exists in several."""
    candidates = list(visible_articles(organization).filter(slug=slug).select_related("collection")[:5])
    if not candidates:
        return None
    return next((a for a in candidates if a.language == language), candidates[0])


def public_organization(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


# --- the console ----------------------------------------------------------------------------------------


@dataclass
class ArticleFilters:
    status: str = ""
    collection: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params) -> ArticleFilters:
        f = cls(**{k: (params.get(k) or "").strip() for k in ("status", "collection", "q")})
        if f.status not in ArticleStatus.values:
            f.status = ""
        if not f.collection.isdigit():
            f.collection = ""
        f.q = f.q[:200]
        return f


def console_articles(organization: Organization, filters: ArticleFilters) -> QuerySet[Article]:
    qs = Article.objects.filter(organization=organization)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.collection:
        qs = qs.filter(collection_id=int(filters.collection))
    if filters.q:
        from .search import article_query

        query = article_query(filters.q)
        qs = qs.filter(Q(search_vector=query) | Q(title__icontains=filters.q)) if query else qs.none()
    return (
        qs.select_related("collection", "updated_by")
        .defer("body", "body_html", "body_text", "search_vector")
        .order_by("-updated_at", "-id")
    )


def console_counts(organization: Organization) -> dict[str, int]:
    row = dict.fromkeys(ArticleStatus.values, 0)
    row.update(
        Article.objects.filter(organization=organization).values_list("status").annotate(n=Count("*")).order_by()
    )
    row["total"] = sum(row[s] for s in ArticleStatus.values)
    return row


def collections_of(organization: Organization) -> list[Collection]:
    return list(
        Collection.objects.filter(organization=organization)
        .annotate(n_articles=Count("articles"))
        .order_by("position", "name")
    )


def get_article(organization: Organization, pk: int) -> Article | None:
    return (
        Article.objects.filter(organization=organization, pk=pk)
        .select_related("collection", "created_by", "updated_by")
        .first()
    )


def revisions_of(article: Article) -> list[ArticleRevision]:
    return list(article.revisions.select_related("author").defer("body").order_by("-number"))


def linked_ticket_count(article: Article) -> int:
    return ArticleLink.objects.filter(article=article).count()


# --- the ticket page ------------------------------------------------------------------------------------


@dataclass
class TicketSuggestion:
    article: Article
    linked: bool
    suggested: bool
    is_public: bool


def suggestions_for_ticket(ticket, *, limit: int = 5) -> list[TicketSuggestion]:
    """Articles for the ticket page: those linked to the ticket, then the published, visible articles the
    assistant's retrieval finds for the ticket's subject and its customer's first message."""
    from .assistant import ticket_suggestions

    return ticket_suggestions(ticket, limit=limit)


def linked_articles_exist(ticket) -> QuerySet[Article]:
    return Article.objects.filter(Exists(ArticleLink.objects.filter(ticket=ticket, article=OuterRef("pk"))))
