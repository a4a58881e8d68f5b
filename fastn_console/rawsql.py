"""Hand-written SQL for the handful of statements on the hot path of a run.

The ORM spends 0.3–0.5 ms of CPU building each query, more than PostgreSQL takes to answer
it, and a run's hot path (authenticate, find the deployed version, record, claim, finish) is
only a few statements. Those statements are written by hand; everything else uses the ORM.

The column lists still come from the models' metadata, values are prepared by the fields
themselves, and rows become model instances through `Model.from_db` with the backend's own
converters, so the results behave exactly like ORM results (deferred fields load on access)
and a renamed column cannot silently go stale. Every statement here runs on both backends
(PostgreSQL, and SQLite ≥ 3.35 for RETURNING)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, JSONField, Model


def db():
    """This thread's connection wrapper itself (`django.db.connection` is a proxy that costs
    a thread-local lookup on every attribute, and these helpers touch it per field)."""
    return connections[DEFAULT_DB_ALIAS]


def quote(name: str) -> str:
    return db().ops.quote_name(name)


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


@functools.cache
def fields(model: type[Model], only: tuple[str, ...] | None = None) -> tuple[Field, ...]:
    if only is None:
        return tuple(model._meta.concrete_fields)
    return tuple(model._meta.get_field(name) for name in only)


@functools.cache
def columns(model: type[Model], alias: str = "", only: tuple[str, ...] | None = None) -> str:
    """The model's columns (or `only` these fields), in `instance`'s order, for a select list
    or a RETURNING clause."""
    prefix = f"{quote(alias)}." if alias else ""
    return ", ".join(prefix + quote(field.column) for field in fields(model, only))


@functools.cache
def _converters(model: type[Model], only: tuple[str, ...] | None, vendor: str) -> tuple:
    """Per field, the functions that turn the database's value into Python's (JSON text into
    objects, SQLite's text into datetimes and UUIDs…), as the ORM's compiler applies them."""
    connection = db()
    out = []
    for field in fields(model, only):
        col = field.get_col(model._meta.db_table)
        converters = [*connection.ops.get_db_converters(col), *field.get_db_converters(connection)]
        out.append((col, tuple(converters)))
    return tuple(out)


def instance(model: type[Model], row: Sequence[Any], only: tuple[str, ...] | None = None):
    """A model instance from `row`, whose values are in `columns(model, only=only)`'s order."""
    connection = db()
    values = []
    for value, (col, converters) in zip(
        row, _converters(model, only, connection.vendor), strict=True
    ):
        for convert in converters:
            value = convert(value, col, connection)
        values.append(value)
    return model.from_db(connection.alias, _attnames(model, only), values)


@functools.cache
def _attnames(model: type[Model], only: tuple[str, ...] | None) -> list[str]:
    return [field.attname for field in fields(model, only)]


def reference(model: type[Model], pk: Any):
    """An instance known by its primary key alone (like `.only("pk")`): enough to filter by
    or to hand on; any other field loads on access."""
    return model.from_db(DEFAULT_DB_ALIAS, [model._meta.pk.attname], [pk])


def db_value(model: type[Model], name: str, value: Any) -> Any:
    """`value` of the field `name` as the database takes it (a UUID is text on SQLite, JSON is
    serialised…), as the ORM prepares it."""
    return model._meta.get_field(name).get_db_prep_save(value, db())


@functools.cache
def _insert_sql(model: type[Model], with_pk: bool, from_: str) -> str:
    inserted = [f for f in fields(model) if with_pk or not f.primary_key]
    placeholders = ", ".join(["%s"] * len(inserted))
    values = f"SELECT {placeholders} FROM {from_}" if from_ else f"VALUES ({placeholders})"
    sql = f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in inserted)}) {values}"
    return sql if with_pk else f"{sql} RETURNING {quote(model._meta.pk.column)}"


def insert(obj: Model, *, with_: tuple[str, Sequence[Any]] | None = None, from_: str = "") -> bool:
    """INSERT `obj` with every concrete field as it is (defaults already applied by the
    model's constructor; no auto_now fields, no signals), as `save(force_insert=True)`; an
    auto-incremented primary key comes back into `obj`.

    `with_` is a WITH clause and its parameters, written before the INSERT; `from_` names a
    relation (one of its CTEs) that must have a row for the INSERT to happen. Answers whether
    a row was inserted."""
    model = type(obj)
    connection = db()
    with_pk = obj.pk is not None
    prefix, params = with_ or ("", ())
    statement = _insert_sql(model, with_pk, from_)
    sql = f"{prefix} {statement}" if prefix else statement
    params = [
        *params,
        *(
            _prep_save(field, getattr(obj, field.attname), connection)
            for field in fields(model)
            if with_pk or not field.primary_key
        ),
    ]
    if with_pk:
        if not execute(sql, params):
            return False
    else:
        row = fetchone(sql, params)
        if row is None:
            return False
        obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


def _prep_save(field: Field, value: Any, connection) -> Any:
    # None in a NOT NULL JSONField is the JSON value null (`{"input": null}` is a valid run
    # input), not SQL NULL, which the column refuses.
    if value is None and isinstance(field, JSONField) and not field.null:
        return connection.ops.adapt_json_value(None, field.encoder)
    return field.get_db_prep_save(value, connection)


def fetchone(sql: str, params: Sequence[Any]) -> tuple | None:
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def execute(sql: str, params: Sequence[Any]) -> int:
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@contextmanager
def _cursor():
    connection = db()
    kept = _kept_cursor(connection)
    if kept is None:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        yield kept


def _kept_cursor(connection):
    """On PostgreSQL, one psycopg cursor kept with the connection for these statements.

    `connection.cursor()` makes a new cursor and wraps it twice for every statement, which
    cost 0.07 ms of CPU — a fifth of what accepting a webhook costs its web process. The
    checks it makes on the way are made here too (the connection is open and this thread's,
    the transaction is not broken, errors become Django's). When queries are being recorded
    (DEBUG, CaptureQueriesContext) or wrapped (`execute_wrapper`), statements take Django's
    cursor, so that they are seen. None: take Django's cursor."""
    if (
        connection.vendor != "postgresql"
        or connection.queries_logged
        or connection.execute_wrappers
    ):
        return None
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    cursor = getattr(connection, "rawsql_cursor", None)
    if cursor is None or cursor.connection is not connection.connection or cursor.closed:
        with connection.wrap_database_errors:
            cursor = connection.create_cursor()
        connection.rawsql_cursor = cursor
    return cursor
