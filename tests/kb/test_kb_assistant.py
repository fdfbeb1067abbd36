"""The assistant's retrieval (issue 16): passage vectors computed after commit, reciprocal rank fusion,
the learned abstention on a question the documentation does not answer, two facts cited, query counts."""

from __future__ import annotations

import pytest
from conftest import module_transaction, own_cache_namespace, run_queued
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import SYSTEM, OrganizationFactory, acting, member
from kb_helpers import demo_documentation_org_id, embed_all

from kb import assistant, embeddings, indexing, services
from kb.assistant import Candidate, ask, fuse
from kb.models import Passage
from lumiodesk.models import Organization, Role

pytestmark = pytest.mark.django_db


def _cand(pk: int, score: float) -> Candidate:
    return Candidate(pk, 1, f"p-{pk}", "", f"passage {pk}", 10, "Titre", "titre", "fr", "public", score=score)


def test_fusion_adds_reciprocal_ranks_of_both_lists():
    a, b, c, d = _cand(1, 9.0), _cand(2, 5.0), _cand(3, 0.0), _cand(4, 1.0)
    # lexical order: a, b, d (c has no lexical match); dense order: c, b, a (d has no vector)
    ranked = fuse([a, b, c, d], {3: (0.9, 1), 2: (0.8, 2), 1: (0.7, 3)})
    k = assistant.RRF_K
    assert [x.pk for x in ranked] == [1, 2, 3, 4]  # first and third beat second twice: 1/61 + 1/63 > 2/62
    assert b.fused == pytest.approx(1 / (k + 2) + 1 / (k + 2))
    assert a.fused == pytest.approx(1 / (k + 1) + 1 / (k + 3))
    assert (c.lex_rank, c.dense_rank, c.fused) == (0, 1, pytest.approx(1 / (k + 1)))
    assert (d.lex_rank, d.dense_rank, d.dense) == (3, 0, 0.0)
    assert [x.pk for x in fuse([_cand(7, 0.0), _cand(5, 0.0)], {})] == [5, 7]  # ties: by id


def test_vectors_are_computed_after_commit_and_kept_for_unchanged_paragraphs(
    queued_tasks, django_capture_on_commit_callbacks
):
    org = OrganizationFactory()
    manager = member(org, Role.MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        article = services.create_article(
            actor=acting(manager),
            organization=org,
            title="Essai",
            body="L'essai dure 14 jours.\n\nAucune carte bancaire n'est demandée.",
            publish=True,
        )
    assert queued_tasks == [("kb.tasks.embed_article_passages", (article.pk,), {})]
    assert not Passage.objects.filter(article=article, embedding__isnull=False).exists()  # never inline
    run_queued(queued_tasks)
    stored = {p.text: bytes(p.embedding) for p in Passage.objects.filter(article=article)}
    assert len(stored) == 2 and all(len(v) == embeddings.DIM * 4 for v in stored.values())
    assert indexing.embed_passages(article_id=article.pk) == 0  # safe to run twice

    with django_capture_on_commit_callbacks(execute=True):
        services.update_article(
            actor=acting(manager),
            article=article,
            title="Essai",
            body="L'essai dure 30 jours.\n\nAucune carte bancaire n'est demandée.",
        )
    kept = Passage.objects.get(article=article, text="Aucune carte bancaire n'est demandée.")
    assert bytes(kept.embedding) == stored[kept.text]  # unchanged paragraph: not embedded again
    assert Passage.objects.get(article=article, text="L'essai dure 30 jours.").embedding is None
    assert queued_tasks == [("kb.tasks.embed_article_passages", (article.pk,), {})]
    run_queued(queued_tasks)
    assert not Passage.objects.filter(article=article, embedding__isnull=True).exists()


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


def test_abstains_on_a_clearly_unanswerable_question_and_says_what_is_missing(demo):
    answer = ask(demo, "Peut-on payer ses factures en bitcoin ?")
    assert answer.abstained and answer.citations == []
    assert "bitcoin" in answer.answer and "ticket" in answer.answer


def test_two_facts_are_both_cited(demo):
    answer = ask(demo, "Quelle est la limite API sur Business et que se passe-t-il si un webhook echoue ?")
    assert not answer.abstained
    texts = " ".join(c.passage for c in answer.citations[:3])
    assert "600 requetes par minute" in texts and "6 fois" in texts


def test_an_english_question_finds_the_french_passage(demo):
    answer = ask(demo, "How long is the free trial?")
    assert not answer.abstained and "14 jours" in answer.citations[0].passage


def _org_with_vectors(n: int):
    org = OrganizationFactory()
    collection = services.save_collection(actor=SYSTEM, organization=org, name="Général")
    for i in range(n):
        services.create_article(
            actor=SYSTEM,
            organization=org,
            title=f"Article {i}",
            body=f"Texte {i} du forfait.",
            collection=collection,
            publish=True,
        )
    vector = embeddings.to_bytes(embeddings.encode_passages(["Texte du forfait."])[0])
    with connection.cursor() as cur:
        cur.execute("UPDATE kb_passage SET embedding = %s WHERE organization_id = %s", [vector, org.pk])
    return org


def test_ask_runs_the_same_queries_whatever_the_size_of_the_knowledge_base():
    def run(n):
        org = _org_with_vectors(n)
        ask(org, "Que dit le texte du forfait ?")
        with CaptureQueriesContext(connection) as ctx:
            ask(org, "Que dit le texte du forfait ?")
        return len(ctx.captured_queries)

    assert run(10) == run(100) <= 4


def test_the_question_is_embedded_folded_and_its_cached_vector_says_so():
    assert embeddings.query_text("  Étes-VOUS   joignables le Week-end ? ") == "etes-vous joignables le week-end ?"
    same = embeddings.encode_query("ÉTÉ, quel délai ?")
    assert same.tobytes() == embeddings.encode_query("ete, quel delai ?").tobytes()
    assert f":{embeddings.QUERY_FORM}:" in assistant.query_cache_key("Quel délai ?")


def test_without_any_vector_yet_full_text_alone_decides_to_answer():
    """Vectors come from Celery after the commit: until then the gate reads the dense features as neutral
    and still answers what full text finds (and still refuses what it does not)."""
    org = OrganizationFactory()
    collection = services.save_collection(actor=SYSTEM, organization=org, name="Général")
    services.create_article(
        actor=SYSTEM,
        organization=org,
        title="Tarif Zephyrin",
        collection=collection,
        body="Le forfait zephyrin coute 42 EUR par mois.",
        publish=True,
    )
    assert not Passage.objects.filter(organization=org, embedding__isnull=False).exists()
    retrieval = assistant.retrieve(org, "Combien coute le forfait zephyrin ?")
    assert not retrieval.has_dense
    answer = ask(org, "Combien coute le forfait zephyrin ?")
    assert not answer.abstained and "42 EUR" in answer.citations[0].passage
    assert ask(org, "Peut-on payer en bitcoin ?").abstained
