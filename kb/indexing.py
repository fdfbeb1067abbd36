"""The passages' dense vectors (``kb.embeddings``), computed after the commit that published or
changed an article, never while answering.

Contract: ``embed_passages`` fills the vectors still missing (``embedding IS NULL``) for one article
and is safe to run twice or concurrently (it only writes NULL columns of passages that still exist);
``embed_pending`` does the same for a whole organization (the import, ``manage.py kb_reindex``).
A passage whose vector is missing is still found by full text: nothing waits for this.
"""

from __future__ import annotations

from django.db import connection, transaction

from lumiodesk.models import Organization

from . import embeddings

PENDING_SQL = """
SELECT p.id, a.title, p.heading, p.text FROM kb_passage p JOIN kb_article a ON a.id = p.article_id
WHERE p.embedding IS NULL AND {where} ORDER BY p.id
"""
STORE_SQL = """
UPDATE kb_passage p SET embedding = v.e FROM unnest(%s::bigint[], %s::bytea[]) AS v(id, e)
WHERE p.id = v.id AND p.embedding IS NULL
"""
BATCH = 64


def _embed(where: str, params: list) -> int:
    with connection.cursor() as cur:
        cur.execute(PENDING_SQL.format(where=where), params)
        rows = cur.fetchall()
    done = 0
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        vectors = embeddings.encode_passages([embeddings.passage_text(t, h, x) for _pk, t, h, x in chunk])
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(STORE_SQL, [[r[0] for r in chunk], [embeddings.to_bytes(v) for v in vectors]])
            done += cur.rowcount
    return done


def embed_passages(*, article_id: int) -> int:
    """Vectors of the article's passages that have none yet; returns how many were stored."""
    return _embed("p.article_id = %s", [article_id])


def embed_pending(*, organization: Organization) -> int:
    return _embed("p.organization_id = %s", [organization.pk])


def reembed_all(*, organization: Organization) -> int:
    """Every passage again (after a change of model)."""
    with connection.cursor() as cur:
        cur.execute("UPDATE kb_passage SET embedding = NULL WHERE organization_id = %s", [organization.pk])
    return embed_pending(organization=organization)
