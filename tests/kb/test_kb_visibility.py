"""Drafts, archived and internal articles, and articles of hidden collections, never reach a public path:
help center pages, search, suggestions, the assistant, the widget's JSON endpoints, ticket suggestions."""

import json

import pytest
from django.urls import reverse
from factories import SYSTEM, acting
from kb_helpers import HIDDEN_WORDS, embed_all, kb_of, make_kb, make_kb_once

from kb import assistant, selectors
from kb.assistant import suggest_articles
from kb.search import search_articles
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def kb_once(module_world, django_db_blocker):
    yield from make_kb_once(module_world, django_db_blocker, embed=True)


@pytest.fixture
def kb(world, monkeypatch, kb_once):
    if kb_once is None:  # a world per test
        made = make_kb(world.org, world.manager)
        embed_all(world.org, monkeypatch)  # what the Celery task does after each publication's commit
        return made
    embed_all(world.org, monkeypatch)  # nothing left to embed: the test's own articles are embedded the same way
    return kb_of(kb_once)


def assert_only_published(text: str) -> None:
    lowered = text.lower()
    assert "zephyrin" in lowered
    for word in HIDDEN_WORDS:
        assert word not in lowered, word


def test_the_one_selector(world, kb):
    assert list(selectors.visible_articles(world.org)) == [kb["published"]]
    team = set(selectors.visible_articles(world.org, scope=selectors.Scope.TEAM))
    assert team == {kb["published"], kb["internal"], kb["hidden"]}  # published only, even for the team


def test_help_center_pages(client, world, kb):
    home = client.get(reverse("kb_public:home", args=["acme"])).content.decode()
    assert "Facturation" in home and "Coulisses" not in home
    page = client.get(reverse("kb_public:collection", args=["acme", kb["public_collection"].slug]))
    assert_only_published(page.content.decode())
    assert client.get(reverse("kb_public:collection", args=["acme", kb["hidden_collection"].slug])).status_code == 404
    assert client.get(reverse("kb_public:article", args=["acme", kb["published"].slug])).status_code == 200
    for key in ("draft", "archived", "internal", "hidden"):
        assert client.get(reverse("kb_public:article", args=["acme", kb[key].slug])).status_code == 404, key


def test_search_page_and_selector(client, world, kb):
    hits, _ = search_articles(world.org, "tarif")
    assert [h.article for h in hits] == [kb["published"]]
    html = client.get(reverse("kb_public:search", args=["acme"]), {"q": "tarif"}).content.decode()
    assert_only_published(html)
    for word in HIDDEN_WORDS:
        hits, _ = search_articles(world.org, word)
        assert hits == [], word


def test_suggestions_and_widget_api(client, world, kb):
    assert [r.title for r in suggest_articles(world.org, "tarif")] == ["Tarif Zephyrin"]
    data = client.get(reverse("kb_public:api_suggest", args=["acme"]), {"q": "tarif"}).json()
    assert [a["title"] for a in data["articles"]] == ["Tarif Zephyrin"]
    for word in HIDDEN_WORDS:
        assert suggest_articles(world.org, word) == []


@pytest.mark.parametrize("word", HIDDEN_WORDS)
def test_assistant_never_quotes_hidden_articles(client, world, kb, word):
    question = f"Combien coute le forfait {word} ?"
    # The learned abstention may answer from the published article; a hidden one is never quoted.
    answer = assistant.ask(world.org, question)
    assert all(c.article == "Tarif Zephyrin" for c in answer.citations)
    data = client.post(reverse("kb_public:api_ask", args=["acme"]), json.dumps({"question": question}),
                       content_type="application/json").json()
    assert all(c["article"] == "Tarif Zephyrin" for c in data["citations"])
    html = client.get(reverse("kb_public:ask", args=["acme"]), {"q": question}, HTTP_HX_REQUEST="true").content.decode()
    assert f"Tarif {word.capitalize()}" not in html


def test_assistant_answers_from_the_published_article(client, world, kb):
    data = client.get(reverse("kb_public:api_ask", args=["acme"]), {"q": "Combien coute le forfait zephyrin ?"}).json()
    assert data["abstained"] is False
    assert data["citations"][0]["article"] == "Tarif Zephyrin"
    assert data["citations"][0]["passage"] == "Le forfait zephyrin coute 42 EUR par mois."
    assert data["citations"][0]["url"].endswith(f"/help/acme/a/{kb['published'].slug}/#p-1")


def test_team_assistant_reads_internal_articles_but_not_drafts(world, kb):
    answer = assistant.ask(world.org, "Combien coute le forfait internix ?", scope=selectors.Scope.TEAM)
    assert not answer.abstained and answer.citations[0].article == "Tarif Internix"
    assert assistant.ask(world.org, "Combien coute le forfait brouillonix ?", scope=selectors.Scope.TEAM).abstained


def test_ticket_suggestions_offer_only_visible_articles(world, kb):
    ticket = ticket_services.create_ticket(actor=SYSTEM,
        organization=world.org, customer=world.customer, subject="Tarif du forfait",
        body="Quel est le tarif zephyrin brouillonix archivix internix cachotix ?",
    )
    suggested = [s.article.pk for s in selectors.suggestions_for_ticket(ticket) if s.suggested]
    assert suggested == [kb["published"].pk]


def test_archiving_removes_from_every_public_path(client, world, kb):
    from kb import services

    services.archive_article(actor=acting(world.manager), article=kb["published"])
    assert client.get(reverse("kb_public:article", args=["acme", kb["published"].slug])).status_code == 404
    assert suggest_articles(world.org, "tarif") == []
    assert assistant.ask(world.org, "Combien coute le forfait zephyrin ?").abstained
    # ...but the team still reads it in the console
    client.force_login(world.agent)
    assert client.get(reverse("kb:detail", args=[kb["published"].pk])).status_code == 200


def test_other_organizations_help_center_is_its_own(client, world, kb):
    assert "zephyrin" not in client.get(reverse("kb_public:search", args=["globex"]), {"q": "tarif"}).content.decode()
    assert client.get(reverse("kb_public:article", args=["globex", kb["published"].slug])).status_code == 404
    assert client.get(reverse("kb_public:home", args=["nope"])).status_code == 404
    assert assistant.ask(world.other_org, "Combien coute le forfait zephyrin ?").abstained
