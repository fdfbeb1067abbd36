"""Who may see which article: ``visible_articles`` is THE visibility rule.

Every path that shows articles to someone outside the team — the help center (lists, article pages,
search), the widget's suggestions, the assistant, the JSON endpoints, and the suggestions offered on a
ticket page (which an agent sends to a customer) — starts from it:

- only published articles (drafts never; archived ones disappear for customers);
- only public articles (internal ones are for the team);
- only in a visible collection, or in none (a hidden collection hides all its articles).

Agents read everything of their organization through ``kb.selectors.console_articles``, archived articles
included ("reste accessible aux agents dans l'historique").
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from lumiodesk.models import Organization

from .models import Article, ArticleStatus, Audience, CollectionVisibility


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
