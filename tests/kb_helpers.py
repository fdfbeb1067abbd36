"""Knowledge-base test data, made through kb.services like the console does."""

from __future__ import annotations

import numpy as np
import pytest
from factories import acting

from kb import services
from kb.models import ArticleStatus, Audience, CollectionVisibility


def make_kb(org, manager):
    """One article of each kind, each with a word of its own, so a page showing it is easy to spot."""
    public = services.save_collection(actor=acting(manager), organization=org, name="Facturation")
    hidden = services.save_collection(actor=acting(manager), organization=org, name="Coulisses",
                                      visibility=CollectionVisibility.HIDDEN)

    def article(title, word, *, collection=public, audience=Audience.PUBLIC, status=ArticleStatus.PUBLISHED):
        a = services.create_article(
            actor=acting(manager), organization=org, title=title, collection=collection, audience=audience,
            body=f"Le forfait {word} coute 42 EUR par mois.\n\nLe mot {word} sert aux tests de visibilite.",
            publish=status == ArticleStatus.PUBLISHED,
        )
        if status == ArticleStatus.ARCHIVED:
            services.publish_article(actor=acting(manager), article=a)
            a = services.archive_article(actor=acting(manager), article=a)
        return a

    return {
        "published": article("Tarif Zephyrin", "zephyrin"),
        "draft": article("Tarif Brouillonix", "brouillonix", status=ArticleStatus.DRAFT),
        "archived": article("Tarif Archivix", "archivix", status=ArticleStatus.ARCHIVED),
        "internal": article("Tarif Internix", "internix", audience=Audience.INTERNAL),
        "hidden": article("Tarif Cachotix", "cachotix", collection=hidden),
        "public_collection": public,
        "hidden_collection": hidden,
    }


HIDDEN_WORDS = ("brouillonix", "archivix", "internix", "cachotix")


_VECTORS: dict[str, object] = {}


def embed_all(org, monkeypatch) -> int:
    """Every passage's vector, as the Celery task computes them (the real model), each distinct text
    encoded once per test process: the documentation is embedded once, not once per test."""
    from kb import embeddings, indexing

    real = embeddings.encode_passages

    def remembered(texts, batch=16):
        todo = [t for t in dict.fromkeys(texts) if t not in _VECTORS]
        for text, vector in zip(todo, real(todo, batch), strict=True):
            _VECTORS[text] = vector
        return np.vstack([_VECTORS[t] for t in texts]) if texts else real([])

    monkeypatch.setattr(embeddings, "encode_passages", remembered)
    return indexing.embed_pending(organization=org)


def demo_documentation_org_id(django_db_blocker) -> int:
    """An organization "demo" holding LumioDesk's own documentation, imported and embedded, for a module's
    tests (``conftest.module_transaction``): importing and embedding 22 articles once, not once per test."""
    from factories import SYSTEM, OrganizationFactory

    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        org = OrganizationFactory(name="Demo", slug="demo")
        services.import_lumiodesk_documentation(actor=SYSTEM, organization=org)
        embed_all(org, patch)  # what the Celery task does after the import's commit
    return org.pk
