"""Search (accents, typos), passages, the import of the documentation, the ask command, query counts."""

import io
import json

import pytest
from conftest import module_transaction, own_cache_namespace
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import SYSTEM, OrganizationFactory, acting, member
from kb_helpers import demo_documentation_org_id, embed_all

from kb import markdown_sections, services
from kb.assistant import ask
from kb.models import Article, ArticleRevision, ArticleStatus, Collection, Passage, Term
from kb.search import search_articles
from lumiodesk.models import Organization, Role

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_org_id(django_db_setup, django_db_blocker):
    """The documentation imported and embedded once for the module (each test in a savepoint)."""
    with module_transaction(django_db_blocker):
        yield demo_documentation_org_id(django_db_blocker)


@pytest.fixture
def demo(demo_org_id, db, monkeypatch):
    own_cache_namespace(monkeypatch)
    org = Organization.objects.get(pk=demo_org_id)
    embed_all(org, monkeypatch)  # nothing left to embed: the test's own articles are embedded the same way
    return org


def test_passages_rejoin_hard_line_breaks_and_cut_paragraphs():
    rendered = markdown_sections.render(
        "Les tickets urgents apparaissent\n\ntoujours en haut.\n\nDeuxieme\nligne jointe.\n\n"
        "1. Premier ? Oui.\n2. Second ? Non.\n\n21. Vingt et un ? Oui.")
    texts = [p.text for p in rendered.passages]
    assert texts == ["Les tickets urgents apparaissent toujours en haut.", "Deuxieme ligne jointe.",
                     "Premier ? Oui.", "Second ? Non.", "Vingt et un ? Oui."]
    assert [p.anchor for p in rendered.passages] == ["p-1", "p-2", "p-3", "p-4", "p-5"]
    assert 'id="p-1"' in rendered.html and '<li id="p-5" value="21">' in rendered.html
    assert markdown_sections.render("Est-ce possible ?").passages[0].is_question


def test_markdown_is_sanitized():
    html = markdown_sections.render("Bonjour <script>alert(1)</script> [lien](javascript:alert(1)) **gras**").html
    assert "<script" not in html and "javascript:" not in html and "<strong>gras</strong>" in html


def test_import_is_idempotent_and_complete(demo):
    assert Article.objects.filter(organization=demo).count() == 22
    assert Collection.objects.filter(organization=demo).count() == 13
    before = (Article.objects.count(), ArticleRevision.objects.count(), Passage.objects.count(), Term.objects.count())
    result = services.import_lumiodesk_documentation(actor=SYSTEM, organization=demo)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 22)
    assert (Article.objects.count(), ArticleRevision.objects.count(), Passage.objects.count(),
            Term.objects.count()) == before
    reset = Article.objects.get(organization=demo, slug="reinitialiser-son-mot-de-passe")
    assert reset.title == "Réinitialiser son mot de passe" and reset.status == ArticleStatus.PUBLISHED
    texts = set(Passage.objects.filter(organization=demo).values_list("text", flat=True))
    assert any("apparaissent toujours en haut" in t for t in texts)
    assert any("permet 100 automatisations" in t for t in texts)
    assert any("creer des tickets, clients" in t for t in texts)


def test_import_keeps_what_the_team_edited(demo):
    manager = member(demo, Role.MANAGER)
    article = Article.objects.get(organization=demo, slug="widget-chat")
    services.update_article(actor=acting(manager), article=article, title=article.title, body="Texte revu.",
                            collection=article.collection)
    result = services.import_lumiodesk_documentation(actor=SYSTEM, organization=demo)
    assert result.kept == 1 and Article.objects.get(pk=article.pk).body == "Texte revu."


def test_import_command(demo, capsys):
    out = io.StringIO()
    call_command("import_kb_demo", org="demo", stdout=out)
    assert "0 created" in out.getvalue()


@pytest.mark.parametrize("query, title", [
    ("sécurité", "Sécurité et accès"),
    ("securite", "Sécurité et accès"),
    ("webhok", "API et webhooks"),  # typo
    ("authentifcation deux facteurs", "Sécurité et accès"),
    ("pieces jointes", "Import et export des données"),
])
def test_search_tolerates_accents_and_typos(demo, query, title):
    hits, _analysis = search_articles(demo, query)
    assert title in [h.article.title for h in hits[:3]], [h.article.title for h in hits]


def test_search_highlights_safely(demo):
    hits, _ = search_articles(demo, "webhook")
    assert "<mark>" in hits[0].headline
    services.create_article(actor=SYSTEM, organization=demo, title="Balises", body="webhook <b>x</b> & co",
                            publish=True)
    hits, _ = search_articles(demo, "balises webhook")
    assert "<b>" not in hits[0].headline


@pytest.mark.parametrize("question, passage", [
    ("Est-ce que le forfait Starter permet d'utiliser le SSO ?", "SSO"),
    ("How much does an extra agent cost on Business?", "7 EUR"),
    ("Combien de regle d'automatisaton sur Scale ?", "100"),
    ("Que se passe-t-il si un webhook echoue ?", "6 fois"),
])
def test_assistant_answers(demo, question, passage):
    answer = ask(demo, question)
    assert not answer.abstained and passage in answer.citations[0].passage
    assert answer.citations[0].passage in answer.answer or answer.quotes[0] in answer.answer


@pytest.mark.parametrize("question", ["", "   "])
def test_assistant_abstains(demo, question):
    answer = ask(demo, question)
    assert answer.abstained and answer.citations == []


def test_ask_command_json(demo):
    out = io.StringIO()
    call_command("ask", "Le SSO est-il disponible sur Starter ?", org="demo", json=True, stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"answer", "abstained", "citations"}
    assert data["abstained"] is False
    assert set(data["citations"][0]) == {"article", "url", "passage"}
    assert data["citations"][0]["url"].startswith("/help/demo/a/")
    assert "#p-" in data["citations"][0]["url"]


def test_ask_command_reads_stdin_in_order(demo, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Le SSO est-il disponible sur Starter ?\n\nCombien dure l'essai ?\n"))
    out = io.StringIO()
    call_command("ask", org="demo", json=True, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["abstained"] for d in lines] == [False, True, False]
    assert "SSO" in lines[0]["citations"][0]["passage"]
    assert "14 jours" in lines[2]["citations"][0]["passage"]


def test_llm_step_is_off_by_default_and_never_writes_urls(demo, monkeypatch):
    from kb import llm

    assert not llm.enabled()
    monkeypatch.setenv("ASSISTANT_LLM_URL", "http://127.0.0.1:9/v1")
    assert llm.rephrase("q", ["passage"], "fr") is None  # unreachable: the extractive answer stays
    assert llm._URL.sub("", "Voir [1] https://evil.example/x et www.evil.example") == "Voir [1]  et "


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _org_with_articles(n: int):
    org = OrganizationFactory()
    collection = services.save_collection(actor=SYSTEM, organization=org, name="Général")
    for i in range(n):
        services.create_article(actor=SYSTEM, organization=org, title=f"Article {i}", body=f"Texte {i} du forfait.",
                                collection=collection, publish=True)
    return org, collection


@pytest.fixture(scope="module")
def sized_org_ids(django_db_setup, django_db_blocker):
    """An organization with 10 published articles and one with 100, written once for the module's query counts
    (``conftest.module_transaction``: each test in a savepoint), not once per page counted."""
    with module_transaction(django_db_blocker):
        with django_db_blocker.unblock():
            orgs = {n: _org_with_articles(n) for n in (10, 100)}
        yield {n: (org.pk, collection.pk) for n, (org, collection) in orgs.items()}


@pytest.fixture
def sized_orgs(sized_org_ids, db, monkeypatch):
    """``{10: (org, collection), 100: (org, collection)}``, read again for the test (its own cache namespace)."""
    own_cache_namespace(monkeypatch)
    return {n: (Organization.objects.get(pk=org_id), Collection.objects.get(pk=collection_id))
            for n, (org_id, collection_id) in sized_org_ids.items()}


@pytest.mark.parametrize("page", ["home", "collection", "search", "ask"])
def test_help_center_query_counts(client, page, sized_orgs):
    def run(n):
        org, collection = sized_orgs[n]
        url, params = {
            "home": (reverse("kb_public:home", args=[org.slug]), {}),
            "collection": (reverse("kb_public:collection", args=[org.slug, collection.slug]), {}),
            "search": (reverse("kb_public:search", args=[org.slug]), {"q": "forfait"}),
            "ask": (reverse("kb_public:ask", args=[org.slug]), {"q": "texte du forfait ?"}),
        }[page]
        client.get(url, params)
        return _count(lambda: client.get(url, params))

    assert run(10) == run(100)


def test_console_list_query_count(client, sized_orgs):
    def run(n):
        org, _collection = sized_orgs[n]
        agent = member(org, Role.AGENT)
        client.force_login(agent)
        client.get(reverse("kb:list"))
        return _count(lambda: client.get(reverse("kb:list")))

    assert run(10) == run(100)
