"""`fastn.state`: durable JSON key-value state for workflows.

Entries are scoped by Space, customer, workflow and, for INVOCATION scope, the run. The caller
(the runtime's host services) binds a `StateScope` on its side of the sandbox, so workflow code
names keys and never scopes. Expired entries are invisible at once and deleted later by the
`purge_expired_state` task.

    scope_ref = StateScope(space.id, customer.id or None, str(workflow.id), execution_id)
    state_set(scope_ref, "cursor", {"page": 2}, scope="org", ttl=3600)
    state_get(scope_ref, "cursor", scope="ORG")          # {"page": 2}; None when missing/expired
    state_delete(scope_ref, "cursor", scope="ORG")       # True when a row was deleted
    state_clear_invocation(space.id, execution_id)       # when the run ends
    state_purge_expired()                                # periodic
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.datastore.errors import StateError
from apps.datastore.models import StateEntry, StateScopeKind

__all__ = [
    "MAX_KEY_CHARS",
    "MAX_TTL_SECONDS",
    "MAX_VALUE_BYTES",
    "StateError",
    "StateScope",
    "state_clear_invocation",
    "state_delete",
    "state_get",
    "state_purge_expired",
    "state_set",
]

MAX_KEY_CHARS = 256
MAX_VALUE_BYTES = 256 * 1024
MAX_TTL_SECONDS = 365 * 24 * 3600
_SCOPES = frozenset(StateScopeKind.values)


@dataclass(frozen=True, slots=True)
class StateScope:
    """Where a run's state lives. Built by the caller from the execution, never from user code.

    `customer_id` is None for the Space's own scope; `workflow_key` is the workflow's UUID as
    text ("" for ad-hoc runs); `invocation_id` is the execution id ("" when the run has none,
    which makes INVOCATION scope unavailable).
    """

    space_id: uuid.UUID | str
    customer_id: uuid.UUID | str | None = None
    workflow_key: str = ""
    invocation_id: str = ""


@dataclass(frozen=True, slots=True)
class _Columns:
    space_id: uuid.UUID
    customer_id: uuid.UUID | None
    customer_key: str
    workflow_key: str
    scope: str
    invocation_id: str

    def lookup(self, key: str) -> dict[str, Any]:
        return {
            "space_id": self.space_id,
            "customer_key": self.customer_key,
            "workflow_key": self.workflow_key,
            "scope": self.scope,
            "invocation_id": self.invocation_id,
            "key": key,
        }


def state_get(scope_ref: StateScope, key: str, *, scope: str = "ORG") -> Any | None:
    """The value stored under `key`, or None when it is missing or expired.

    A hand-written SELECT for the same reason as `state_set`: building the ORM query costs
    twice the database round trip, and workflows read state as often as they write it.
    """
    columns = _columns(scope_ref, scope)
    _check_key(key)
    with connection.cursor() as cursor:
        cursor.execute(
            _select_sql(connection.vendor),
            [
                *_prep(columns, with_customer=False),
                key,
                _prep_datetime("expires_at", timezone.now()),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return _field("value").from_db_value(row[0], None, connection)


def state_set(
    scope_ref: StateScope,
    key: str,
    value: Any,
    *,
    scope: str = "ORG",
    ttl: int | float | None = None,
) -> None:
    """Store `value` (any JSON value) under `key`, replacing what was there, for `ttl` seconds
    (None = no expiry).

    One `INSERT … ON CONFLICT DO UPDATE` statement and so one round trip in autocommit mode:
    the ORM's bulk_create(update_conflicts=True) would produce the same statement but wraps it
    in BEGIN/COMMIT, tripling the round trips of the hottest call a workflow makes.
    """
    columns = _columns(scope_ref, scope)
    _check_key(key)
    seconds = _check_ttl(ttl)
    document = _serialize(value)
    now = timezone.now()
    expires_at = now + timedelta(seconds=seconds) if seconds is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            _upsert_sql(connection.vendor),
            [
                *_prep(columns),
                key,
                document,
                _prep_datetime("expires_at", expires_at),
                _prep_datetime("updated_at", now),
            ],
        )


def state_delete(scope_ref: StateScope, key: str, *, scope: str = "ORG") -> bool:
    """Delete `key`; True when it existed (expired entries count: they were still stored)."""
    columns = _columns(scope_ref, scope)
    _check_key(key)
    deleted, _ = StateEntry.objects.filter(**columns.lookup(key)).delete()
    return deleted > 0


def state_clear_invocation(space_id: uuid.UUID | str, invocation_id: str) -> int:
    """Delete every INVOCATION entry of one run; call it when the run ends. Returns the count."""
    if not invocation_id:
        return 0
    deleted, _ = StateEntry.objects.filter(
        space_id=_uuid(space_id, "space_id"),
        scope=StateScopeKind.INVOCATION,
        invocation_id=invocation_id,
    ).delete()
    return deleted


def state_purge_expired(*, batch_size: int = 5000) -> int:
    """Delete expired entries in batches (short transactions, short locks). Returns the count."""
    now = timezone.now()
    total = 0
    while True:
        ids = list(
            StateEntry.objects.filter(expires_at__lte=now).values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return total
        deleted, _ = StateEntry.objects.filter(id__in=ids, expires_at__lte=now).delete()
        total += deleted
        if len(ids) < batch_size:
            return total


# --- Validation -----------------------------------------------------------------------------


def _columns(scope_ref: StateScope, scope: object) -> _Columns:
    kind = _check_scope(scope)
    customer_id = (
        None if scope_ref.customer_id is None else _uuid(scope_ref.customer_id, "customer_id")
    )
    if kind == StateScopeKind.INVOCATION:
        if not scope_ref.invocation_id:
            raise StateError("INVOCATION scope needs a running execution; this run has none.")
        invocation_id = str(scope_ref.invocation_id)
    else:
        invocation_id = ""
    return _Columns(
        space_id=_uuid(scope_ref.space_id, "space_id"),
        customer_id=customer_id,
        customer_key=str(customer_id) if customer_id else "",
        workflow_key=str(scope_ref.workflow_key or ""),
        scope=kind,
        invocation_id=invocation_id,
    )


def _check_scope(scope: object) -> str:
    if scope is None:
        return StateScopeKind.ORG
    if isinstance(scope, str) and (kind := scope.upper()) in _SCOPES:
        return kind
    raise StateError(f'Scope must be "ORG" or "INVOCATION" (any case), not {_show(scope)}.')


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise StateError(f"State key must be a string, not {_show(key)}.")
    if not key:
        raise StateError("State key must not be empty.")
    if len(key) > MAX_KEY_CHARS:
        raise StateError(f"State key is {len(key)} characters long; the limit is {MAX_KEY_CHARS}.")
    if "\x00" in key:
        raise StateError("State key must not contain the NUL character.")


def _check_ttl(ttl: object) -> int | None:
    if ttl is None:
        return None
    # JavaScript numbers arrive as floats; 60.0 is a whole number of seconds, 1.5 is not.
    whole = isinstance(ttl, int) or (isinstance(ttl, float) and ttl.is_integer())
    if isinstance(ttl, bool) or not whole or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise StateError(
            f"ttl must be a whole number of seconds from 1 to {MAX_TTL_SECONDS} (one year), "
            f"not {_show(ttl)}."
        )
    return int(ttl)


def _serialize(value: object) -> str:
    try:
        document = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StateError(f"State value must be JSON-serialisable: {exc}.") from None
    size = len(document.encode())
    if size > MAX_VALUE_BYTES:
        raise StateError(
            f"State value is {size} bytes once serialised as JSON; the limit is "
            f"{MAX_VALUE_BYTES} bytes (256 KB)."
        )
    # PostgreSQL's jsonb has no room for U+0000; refuse it on every engine alike.
    if "\\u0000" in document and _contains_nul(value):
        raise StateError("State values must not contain the NUL character (\\u0000) in strings.")
    return document


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_contains_nul(item) for item in value)
    return False


def _uuid(value: object, name: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise StateError(f"{name} must be a UUID, not {_show(value)}.") from None


def _show(value: object) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "…"


# --- The upsert -----------------------------------------------------------------------------

_UNIQUE = ["space", "customer_key", "workflow_key", "scope", "invocation_id", "key"]
_INSERTED = [
    "space",
    "customer",
    "customer_key",
    "workflow_key",
    "scope",
    "invocation_id",
    "key",
    "value",
    "expires_at",
    "updated_at",
]
_UPDATED = ["value", "expires_at", "updated_at"]


@cache
def _upsert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = StateEntry._meta

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    # The value arrives already serialised (it was measured); PostgreSQL casts the text itself.
    value_placeholder = "%s::jsonb" if vendor == "postgresql" else "%s"
    placeholders = [value_placeholder if name == "value" else "%s" for name in _INSERTED]
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(column(n) for n in _INSERTED)}) "
        f"VALUES ({', '.join(placeholders)}) "
        f"ON CONFLICT ({', '.join(column(n) for n in _UNIQUE)}) DO UPDATE SET "
        + ", ".join(f"{column(n)} = EXCLUDED.{column(n)}" for n in _UPDATED)
    )


@cache
def _select_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = StateEntry._meta

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    where = " AND ".join(f"{column(name)} = %s" for name in _UNIQUE)
    expires = column("expires_at")
    return (
        f"SELECT {column('value')} FROM {quote(meta.db_table)} WHERE {where} "
        f"AND ({expires} IS NULL OR {expires} > %s)"
    )


@cache
def _field(name: str) -> Any:
    return StateEntry._meta.get_field(name)


def _prep(columns: _Columns, *, with_customer: bool = True) -> list[Any]:
    # The fields adapt ids for the engine (SQLite stores UUIDs as 32 hex characters).
    space = _field("space").get_db_prep_save(columns.space_id, connection)
    customer = _field("customer").get_db_prep_save(columns.customer_id, connection)
    return [
        space,
        *([customer] if with_customer else []),
        columns.customer_key,
        columns.workflow_key,
        columns.scope,
        columns.invocation_id,
    ]


def _prep_datetime(name: str, value: datetime | None) -> Any:
    return _field(name).get_db_prep_save(value, connection)
