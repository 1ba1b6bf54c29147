"""Fast bulk INSERT and UPDATE through ``executemany``, for the weekly sync and the audit chain.

Django's ``bulk_update`` builds one CASE expression per row and field and took over a minute for 20k
cases; ``executemany`` with one statement per row takes well under a second on SQLite and PostgreSQL.
Values are converted once per field with the backend's own adapters, as the ORM would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models


def _converter(field: models.Field) -> Callable[[Any], Any]:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        return lambda v: field.get_db_prep_save(v, connection)
    if isinstance(field, models.ForeignKey):
        return lambda v: v.pk if isinstance(v, models.Model) else v
    return lambda v: v


def _columns(model: type[models.Model], fields: Sequence[str]):
    meta = model._meta
    objs = [meta.get_field(f) for f in fields]
    qn = connection.ops.quote_name
    return qn(meta.db_table), [qn(f.column) for f in objs], [_converter(f) for f in objs]


def insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    table, cols, conv = _columns(model, fields)
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    values = [tuple(c(v) for c, v in zip(conv, row, strict=True)) for row in rows]
    if values:
        with connection.cursor() as cur:
            cur.executemany(sql, values)
    return len(values)


def update(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """``rows`` are (pk, value of fields[0], value of fields[1], …)."""
    table, cols, conv = _columns(model, fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    sql = f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in cols)} WHERE {pk} = %s"
    values = [(*(c(v) for c, v in zip(conv, row[1:], strict=True)), row[0]) for row in rows]
    if values:
        with connection.cursor() as cur:
            cur.executemany(sql, values)
    return len(values)


def insert_objects(model: type[models.Model], objs: Sequence[Any], fields: Sequence[str]) -> int:
    """Insert objects carrying ``model``'s attribute names (unsaved instances or plain namespaces,
    foreign keys as ``<name>_id``); primary keys are not read back: select them by a natural key."""
    if not objs:
        return 0
    attnames = [model._meta.get_field(f).attname for f in fields]
    return insert(model, fields, ([getattr(o, a) for a in attnames] for o in objs))
