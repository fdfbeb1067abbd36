"""Model instances from rows read by a fixed SQL statement (the hot paths: email intake reads a customer, a
ticket and its customer, the auto-assignment setting on every message).

A queryset compiles its SQL on every call (about 1 ms of CPU for a ticket with its customer); a fixed statement
is prepared once by the server and costs a fraction of that. ``columns(model, alias)`` writes the select list
and ``instance(model, values)`` builds the instance exactly as the ORM would (every concrete field, the
fields' converters applied: JSON parsed, and so on).
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import Model


@cache
def _fields(model: type[Model]) -> tuple:
    return tuple(model._meta.concrete_fields)


def columns(model: type[Model], alias: str) -> str:
    """The select list of every concrete field of ``model``, as ``alias."column"``, in ``instance``'s order."""
    return ", ".join(f'{alias}."{f.column}"' for f in _fields(model))


def width(model: type[Model]) -> int:
    return len(_fields(model))


def instance(model: type[Model], values) -> Model:
    """The instance of ``model`` read from ``values`` (in ``columns``' order), as a queryset builds it."""
    fields = _fields(model)
    values = list(values)
    for i, f in enumerate(fields):
        for convert in f.get_db_converters(connection):
            values[i] = convert(values[i], f.cached_col, connection)
    return model.from_db(connection.alias, [f.attname for f in fields], values)
