"""Model instances from rows read by a fixed SQL statement (the hot paths: email intake reads a customer, a
ticket and its customer, the auto-assignment setting on every message).

A queryset compiles its SQL on every call (about 1 ms of CPU for a ticket with its customer); a fixed statement
is prepared once by the server and costs a fraction of that. ``columns(model, alias)`` writes the select list
and ``instance(model, values)`` builds the instance exactly as the ORM would (every concrete field, the
fields' converters applied: JSON parsed, and so on).
"""

from __future__ import annotations

from functools import cache

from django.db import IntegrityError, connection, transaction
from django.db.models import NOT_PROVIDED, Model
from django.db.models.signals import post_save, pre_save


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


@cache
def _insert_sql(model: type[Model], on_conflict: str) -> tuple[str, tuple]:
    fields = tuple(f for f in _fields(model) if not f.primary_key)
    if any(getattr(f, "generated", False) or f.db_default is not NOT_PROVIDED for f in fields):
        raise TypeError(f"{model.__name__}: a column the database computes; use the ORM")  # pragma: no cover
    quote = connection.ops.quote_name
    conflict = f" ON CONFLICT {on_conflict} DO NOTHING" if on_conflict else ""
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}){conflict} RETURNING {quote(model._meta.pk.column)}")
    return sql, fields


def insert(obj: Model, *, on_conflict: str = "") -> Model | None:
    """``obj.save()`` of a new instance in a fixed statement (``Model.objects.create`` compiles its INSERT each
    time): every field's ``pre_save`` and database preparation as the ORM applies them, the new primary key set.
    For models whose columns the database does not compute. A model that a ``pre_save`` / ``post_save``
    receiver listens to, or whose ``save`` is overridden (none today), is saved by the ORM instead, so neither,
    added later, is ever skipped.

    ``on_conflict``: a conflict target of the table's unique indexes (``"(organization_id, lower(email))"``):
    when a row already holds those values, nothing is written and None is returned (``INSERT ... ON CONFLICT DO
    NOTHING``: one round trip, where a savepoint around the INSERT costs two more; through the ORM, a savepoint)."""
    model = type(obj)
    if model.save is not Model.save or pre_save.has_listeners(model) or post_save.has_listeners(model):
        if not on_conflict:
            obj.save(force_insert=True)
            return obj
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            return None
        return obj
    sql, fields = _insert_sql(model, on_conflict)
    with connection.cursor() as cur:
        cur.execute(sql, [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields])
        row = cur.fetchone()
    if row is None:
        return None
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
