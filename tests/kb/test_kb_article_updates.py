"""``kb.services.update_article(drafts_only=True)``: the API's "drafts only", checked under the row's lock."""

from __future__ import annotations

import pytest
from factories import SYSTEM, acting

from kb import services
from kb.models import Article, ArticleStatus

pytestmark = pytest.mark.django_db


def test_drafts_only_refuses_an_article_published_meanwhile(world):
    article = services.create_article(actor=SYSTEM, organization=world.org, title="Mot de passe", body="Cliquez.")
    stale = Article.objects.get(pk=article.pk)  # what a caller read while it was a draft
    updated = services.update_article(
        actor=acting(world.manager),
        article=stale,
        title="Mot de passe",
        body="Cliquez sur « Oublié ».",
        drafts_only=True,
    )
    assert updated.body == "Cliquez sur « Oublié »."

    services.publish_article(actor=SYSTEM, article=Article.objects.get(pk=article.pk))
    assert stale.status == ArticleStatus.DRAFT  # the caller's copy still says draft: the lock's read decides
    with pytest.raises(services.NotADraft) as refused:
        services.update_article(actor=acting(world.admin), article=stale, title="x", body="x", drafts_only=True)
    assert refused.value.status_code == 409
    article.refresh_from_db()
    assert (article.title, article.body, article.status) == (
        "Mot de passe",
        "Cliquez sur « Oublié ».",
        ArticleStatus.PUBLISHED,
    )
    # Without drafts_only (the console), a Manager still edits the published article.
    services.update_article(actor=acting(world.manager), article=stale, title="Mot de passe", body="Revu.")
    article.refresh_from_db()
    assert article.body == "Revu."
