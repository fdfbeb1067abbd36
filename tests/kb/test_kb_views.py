"""Console views of the knowledge base: anonymous, another organization, viewer, allowed roles, HTMX."""

import pytest
from django.urls import reverse
from factories import acting
from helpers import assert_full_page, assert_login_redirect, assert_partial, htmx
from kb_helpers import kb_of, make_kb, make_kb_once

from kb import services
from kb.models import Article, ArticleLink, ArticleStatus
from lumiodesk.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def kb_once(module_world, django_db_blocker):
    yield from make_kb_once(module_world, django_db_blocker)


@pytest.fixture
def kb(world, kb_once):
    return make_kb(world.org, world.manager) if kb_once is None else kb_of(kb_once)


@pytest.fixture
def theirs(world):
    from factories import member

    from lumiodesk.models import Role

    return services.create_article(actor=acting(member(world.other_org, Role.ADMIN)), organization=world.other_org,
                                   title="Globex secret article", body="Secret.", publish=True)


def test_anonymous_is_sent_to_login(client, world, kb):
    for url in (reverse("kb:list"), reverse("kb:detail", args=[kb["published"].pk]), reverse("kb:create"),
                reverse("kb:assistant"), reverse("kb:collections")):
        assert_login_redirect(client.get(url), url)
    url = reverse("kb:status", args=[kb["draft"].pk])
    assert client.post(url, {"status": "published"}).status_code == 302
    assert Article.objects.get(pk=kb["draft"].pk).status == ArticleStatus.DRAFT


def test_another_organizations_article_is_404(client, world, kb, theirs):
    client.force_login(world.admin)
    assert client.get(reverse("kb:detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("kb:edit", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("kb:status", args=[theirs.pk]), {"status": "archived"}).status_code == 404
    assert client.post(reverse("kb:ticket_link", args=[world.ticket.number, theirs.pk])).status_code == 404
    assert "Globex secret" not in client.get(reverse("kb:list"), {"q": "secret"}).content.decode()
    client.force_login(world.outsider)
    assert client.get(reverse("kb:detail", args=[kb["published"].pk])).status_code == 404


def test_viewer_reads_but_never_writes(client, world, kb):
    client.force_login(world.viewer)
    assert client.get(reverse("kb:list")).status_code == 200
    assert client.get(reverse("kb:detail", args=[kb["archived"].pk])).status_code == 200
    assert client.get(reverse("kb:create")).status_code == 403
    assert client.post(reverse("kb:create"), {"title": "x", "language": "fr", "audience": "public"}).status_code == 403
    assert client.get(reverse("kb:edit", args=[kb["draft"].pk])).status_code == 403
    assert client.post(reverse("kb:status", args=[kb["draft"].pk]), {"status": "published"}).status_code == 403
    assert client.post(reverse("kb:ticket_link", args=[world.ticket.number, kb["published"].pk])).status_code == 403
    assert client.get(reverse("kb:ticket_insert", args=[world.ticket.number, kb["published"].pk]),
                      **htmx()).status_code == 403


def test_agent_writes_drafts_but_does_not_publish(client, world, kb):
    client.force_login(world.agent)
    response = client.post(reverse("kb:create"), {
        "title": "Changer de forfait", "language": "fr", "audience": "public", "body": "Depuis Parametres.",
        "publish": "1",
    })
    assert response.status_code == 400  # asked to publish: refused, nothing written
    assert not Article.objects.filter(title="Changer de forfait").exists()
    response = client.post(reverse("kb:create"), {
        "title": "Changer de forfait", "language": "fr", "audience": "public", "body": "Depuis Parametres.",
    })
    article = Article.objects.get(title="Changer de forfait")
    assert response.status_code == 302 and article.status == ArticleStatus.DRAFT
    assert client.get(reverse("kb:edit", args=[article.pk])).status_code == 200
    assert client.get(reverse("kb:edit", args=[kb["published"].pk])).status_code == 403
    response = client.post(reverse("kb:status", args=[article.pk]), {"status": "published"}, **htmx())
    assert response.status_code == 403
    assert Article.objects.get(pk=article.pk).status == ArticleStatus.DRAFT


def test_manager_publishes_with_htmx(client, world, kb):
    client.force_login(world.manager)
    response = client.post(reverse("kb:status", args=[kb["draft"].pk]), {"status": "published"}, **htmx())
    html = assert_partial(response)
    assert response.status_code == 200 and 'id="article-head"' in html
    assert Article.objects.get(pk=kb["draft"].pk).status == ArticleStatus.PUBLISHED
    assert AuditLog.objects.filter(action="kb.article.status", target_id=kb["draft"].pk).exists()
    response = client.post(reverse("kb:status", args=[kb["draft"].pk]), {"status": "archived"})
    assert response.status_code == 302


def test_editing_keeps_revisions(client, world, kb):
    client.force_login(world.manager)
    article = kb["published"]
    client.post(reverse("kb:edit", args=[article.pk]), {
        "title": article.title, "language": "fr", "audience": "public", "body": "Nouveau texte.",
        "collection": article.collection_id, "slug": article.slug,
    })
    assert list(article.revisions.values_list("number", flat=True).order_by("number")) == [1, 2]
    old = client.get(reverse("kb:revision", args=[article.pk, 1])).content.decode()
    assert "zephyrin" in old
    assert client.get(reverse("kb:revision", args=[article.pk, 9])).status_code == 404


def test_list_page_and_htmx_filter(client, world, kb):
    client.force_login(world.agent)
    html = assert_full_page(client.get(reverse("kb:list")))
    assert "Tarif Archivix" in html and "Tarif Brouillonix" in html  # the team sees every status
    html = assert_partial(client.get(reverse("kb:list"), {"status": "draft"}, **htmx("article-list")))
    assert "Tarif Brouillonix" in html and "Tarif Zephyrin" not in html


def test_collections_are_managed_by_managers(client, world, kb):
    client.force_login(world.agent)
    assert client.get(reverse("kb:collections")).status_code == 200
    assert client.get(reverse("kb:collection_create")).status_code == 403
    client.force_login(world.manager)
    response = client.post(reverse("kb:collection_create"), {"name": "API", "visibility": "public"})
    assert response.status_code == 302


def test_link_unlink_and_insert_on_a_ticket(client, world, kb):
    client.force_login(world.agent)
    url = reverse("kb:ticket_link", args=[world.ticket.number, kb["published"].pk])
    html = assert_partial(client.post(url, **htmx()))
    assert 'id="kb-suggestions"' in html and "Tarif Zephyrin" in html
    assert ArticleLink.objects.filter(ticket=world.ticket, article=kb["published"]).exists()
    client.post(url, {"action": "unlink"}, **htmx())
    assert not ArticleLink.objects.exists()

    insert = reverse("kb:ticket_insert", args=[world.ticket.number, kb["published"].pk])
    html = assert_partial(client.get(insert, {"body": "Bonjour,", "anchor": "p-1"}, **htmx("reply-body")))
    assert html.startswith('<textarea id="reply-body"')
    assert "Bonjour," in html and "Le forfait zephyrin coute 42 EUR par mois." in html
    assert f"/help/acme/a/{kb['published'].slug}/#p-1" in html
    internal = reverse("kb:ticket_insert", args=[world.ticket.number, kb["internal"].pk])
    assert client.get(internal, **htmx()).status_code == 400  # never sent to a customer
    other = reverse("kb:ticket_insert", args=[world.other_ticket.number, kb["published"].pk])
    assert client.get(other, **htmx()).status_code == 404


def test_ticket_page_shows_suggestions_and_the_assistant(client, world, kb):
    client.force_login(world.agent)
    html = client.get(reverse("tickets:detail", args=[world.ticket.number])).content.decode()
    assert 'id="kb-suggestions"' in html and reverse("kb:assistant") in html


def test_assistant_view_full_and_htmx(client, world, kb):
    client.force_login(world.agent)
    q = {"q": "Combien coute le forfait zephyrin ?", "ticket": world.ticket.number}
    assert_full_page(client.get(reverse("kb:assistant"), q))
    html = assert_partial(client.get(reverse("kb:assistant"), q, **htmx()))
    assert "Le forfait zephyrin coute 42 EUR par mois." in html and "Insérer dans la réponse" in html
    client.force_login(world.viewer)
    html = assert_partial(client.get(reverse("kb:assistant"), q, **htmx()))
    assert "Insérer dans la réponse" not in html


def test_public_help_center_htmx_partials(client, world, kb):
    html = assert_partial(client.get(reverse("kb_public:search", args=["acme"]), {"q": "tarif"}, **htmx()))
    assert html.lstrip().startswith('<div id="results"') and "<mark>" in html
    html = assert_partial(client.get(reverse("kb_public:ask", args=["acme"]), {"q": "tarif zephyrin ?"}, **htmx()))
    assert 'id="answer"' in html
    assert_full_page(client.get(reverse("kb_public:ask", args=["acme"]), {"q": "tarif zephyrin ?"}))
