"""Celery tasks of the knowledge base: ids in, one call, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import indexing


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=10, max_retries=5, retry_jitter=True)
def embed_article_passages(self, article_id: int) -> int:
    return indexing.embed_passages(article_id=article_id)
