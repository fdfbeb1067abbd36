"""Cursor pagination on a descending key (keyset): a page costs the same on the first page and the
thousandth, and a ticket created meanwhile neither repeats nor hides one of the next page.

The cursor is the last row's key, URL-safe base64 JSON; the next page is the rows whose key is smaller, in
one row comparison that walks the list's index (``(is_urgent, created_at, id) < (…)`` for tickets).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter

from .errors import ApiError

DEFAULT_LIMIT = 25
MAX_LIMIT = 100

PARAMETERS = [
    OpenApiParameter("cursor", str, description="The `next_cursor` of the previous page."),
    OpenApiParameter("limit", int, description=f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."),
]


def _encode(values: list) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, qs: QuerySet, fields: tuple[str, ...]) -> list:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(fields):
            raise ValueError
        values = []
        for name, value in zip(fields, raw, strict=True):
            field = qs.model._meta.get_field(name)
            field = getattr(field, "output_field", None) or field  # a GeneratedField's type
            if isinstance(value, list | dict) or value is None:
                raise ValueError
            values.append(field.to_python(value))
        return values
    except Exception:
        raise ApiError("invalid_cursor", _("Curseur de pagination invalide.")) from None


def _limit(request) -> int:
    raw = request.query_params.get("limit") or ""
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError("invalid_limit", _("« limit » doit être un nombre de 1 à %(n)s.") % {"n": MAX_LIMIT})
    return int(raw)


def paginate(request, qs: QuerySet, fields: tuple[str, ...], serialize) -> dict:
    """One page of ``qs`` ordered by ``fields`` descending (the last one unique), and the next page's cursor."""
    limit = _limit(request)
    cursor = request.query_params.get("cursor") or ""
    qs = qs.order_by(*(f"-{f}" for f in fields))
    if cursor:
        values = _decode(cursor, qs, fields)
        table = qs.model._meta.db_table
        columns = ", ".join(f'"{table}"."{qs.model._meta.get_field(f).column}"' for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        qs = qs.filter(RawSQL(f"({columns}) < ({marks})", values, output_field=BooleanField()))
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode([getattr(rows[-1], f) for f in fields]) if more and rows else None
    next_url = None
    if next_cursor:
        params = request.query_params.copy()
        params["cursor"] = next_cursor
        next_url = request.build_absolute_uri(request.path + "?" + params.urlencode())
    return {"results": serialize(rows), "next_cursor": next_cursor, "next": next_url}
