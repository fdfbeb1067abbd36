"""Shared by the sign-up, team, audit log and password reset tests (tests/core/)."""

from __future__ import annotations

import re
import uuid


def fresh_rate_limits(monkeypatch) -> None:
    """Rate-limit counters of this test alone: they live in Redis across tests and runs."""
    from django.core.cache import caches

    backend = caches["default"]
    monkeypatch.setattr(backend, "key_prefix", f"{backend.key_prefix}-{uuid.uuid4().hex[:12]}")


def link_in(mail, marker: str) -> str:
    """The path of the first link in ``mail`` whose path contains ``marker`` (e.g. "/invitation/")."""
    url = re.search(r"https?://[^\s\"<>]*" + re.escape(marker) + r"[^\s\"<>]*", mail.body).group(0)
    return "/" + url.split("/", 3)[3]
