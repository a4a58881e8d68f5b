"""`fastn.state`: durable JSON key-value state for workflows.

Entries are scoped by Space, customer, workflow and, for INVOCATION scope, the run. The caller
(the runtime's host services) binds a `StateScope` on its side of the sandbox, so workflow code
names keys and never scopes. Expired entries are invisible at once and deleted later by the
`purge_expired_state` task.

    scope_ref = StateScope(space.id, customer.id or None, str(workflow.id), execution_id)
    state_set(scope_ref, "cursor", {"page": 2}, scope="org", ttl=3600)
    state_get(scope_ref, "cursor", scope="ORG")          # {"page": 2}; None when missing/expired
    state_delete(scope_ref, "cursor", scope="ORG")       # True when a row was deleted
    state_incr(scope_ref, "hits", 1, ttl=60)             # the new number; missing counts as 0
    state_set_if_absent(scope_ref, "seen:42", True)      # True when it wrote
    state_compare_and_set(scope_ref, "cursor", {"page": 2}, {"page": 3})  # True when it wrote
    state_clear_invocation(space.id, execution_id)       # when the run ends
    state_purge_expired()                                # periodic
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.datastore.errors import StateError
from apps.datastore.models import StateEntry, StateScopeKind

__all__ = [
    "MAX_KEY_CHARS",
    "MAX_TTL_SECONDS",
    "MAX_VALUE_BYTES",
    "StateBusy",
    "StateError",
    "StateNotANumber",
    "StateScope",
    "state_clear_invocation",
    "state_compare_and_set",
    "state_delete",
    "state_get",
    "state_incr",
    "state_purge_expired",
    "state_set",
    "state_set_if_absent",
]

MAX_KEY_CHARS = 256
MAX_VALUE_BYTES = 256 * 1024
MAX_TTL_SECONDS = 365 * 24 * 3600
_SCOPES = frozenset(StateScopeKind.values)
# A conditional write that finds no row, then loses the INSERT to a concurrent run, starts again
# and finds that run's row; only a key deleted and re-created in a tight loop could need more.
_WRITE_ATTEMPTS = 5


class StateNotANumber(StateError):
    """`state_incr` on a key that holds something other than a number."""


class StateBusy(StateError):
    """A conditional write kept racing with other writers; trying again later may succeed."""


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


def state_incr(
    scope_ref: StateScope,
    key: str,
    by: int | float = 1,
    *,
    scope: str = "ORG",
    ttl: int | float | None = None,
) -> int | float:
    """Add `by` to the number stored under `key` and return the new number, atomically.

    A missing or expired key counts as 0. `ttl` applies when this call creates the key (or
    restarts an expired one): the counter then expires `ttl` seconds later whatever the later
    increments, which is what a fixed-window rate limit needs. Incrementing a key that holds
    anything but a number raises StateNotANumber and changes nothing.
    """
    columns = _columns(scope_ref, scope)
    _check_key(key)
    seconds = _check_ttl(ttl)
    amount = _check_number(by, "by")

    def decide(current: Any) -> _Write:
        if current is _ABSENT:
            return _Write(_finite(amount, key), _expiry(seconds))
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise StateNotANumber(
                f"State key {_show(key)} holds {_json_type(current)}, not a number: "
                "incr can only add to a number (or to a missing key)."
            )
        return _Write(_finite(current + amount, key), _KEEP)

    return _locked_write(columns, key, decide).value


def state_set_if_absent(
    scope_ref: StateScope,
    key: str,
    value: Any,
    *,
    scope: str = "ORG",
    ttl: int | float | None = None,
) -> bool:
    """Store `value` under `key` only if the key is missing or expired; True when it wrote.

    One statement, atomic on both engines: an `INSERT … ON CONFLICT DO UPDATE` whose update
    applies only to an expired row, so of many concurrent callers exactly one writes.
    """
    columns = _columns(scope_ref, scope)
    _check_key(key)
    seconds = _check_ttl(ttl)
    document = _serialize(value)
    now = timezone.now()
    expires_at = now + timedelta(seconds=seconds) if seconds is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            _insert_if_absent_sql(connection.vendor),
            [
                *_prep(columns),
                key,
                document,
                _prep_datetime("expires_at", expires_at),
                _prep_datetime("updated_at", now),
                _prep_datetime("expires_at", now),
            ],
        )
        return cursor.rowcount == 1


def state_compare_and_set(
    scope_ref: StateScope,
    key: str,
    expected: Any,
    value: Any,
    *,
    scope: str = "ORG",
    ttl: int | float | None = None,
) -> bool:
    """Store `value` under `key` only if the key now holds `expected`; True when it wrote.

    Values compare as JSON: objects by their members whatever the key order, numbers by
    value (1 equals 1.0), `true` never equals 1. An `expected` of None matches a missing or
    expired key as well as a stored null, just as `state_get` answers None for all three.
    `ttl` works as in `state_set`: the written value expires `ttl` seconds from now, or never.
    """
    columns = _columns(scope_ref, scope)
    _check_key(key)
    seconds = _check_ttl(ttl)
    document = _serialize(value)
    _serialize(expected)  # the same rules as a stored value, so a bad `expected` is an error

    def decide(current: Any) -> _Write | None:
        matches = expected is None if current is _ABSENT else _same_json(current, expected)
        return _Write(value, _expiry(seconds), document) if matches else None

    return _locked_write(columns, key, decide) is not None


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


def _check_number(value: object, name: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StateError(f"{name} must be a finite number, not {_show(value)}.")
    return value


def _finite(number: int | float, key: str) -> int | float:
    # JavaScript numbers are doubles: past 1.8e308 they are Infinity, which JSON cannot hold.
    try:
        if math.isfinite(float(number)):
            return number
    except OverflowError:
        pass
    raise StateError(f"State key {_show(key)} would exceed the largest number JSON can hold.")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "an array" if isinstance(value, list) else "an object"


def _as_double(number: int | float) -> float:
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def _same_json(left: Any, right: Any) -> bool:
    """Deep equality with JSON's semantics, without recursion (values may nest deeply)."""
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        if isinstance(a, bool) or isinstance(b, bool):
            if not (isinstance(a, bool) and isinstance(b, bool) and a == b):
                return False
        elif isinstance(a, int | float) and isinstance(b, int | float):
            # Both sides were doubles in JavaScript; PostgreSQL's jsonb may hand 1e300 back as
            # an exact integer, which only compares equal once it is a double again.
            if _as_double(a) != _as_double(b):
                return False
        elif isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                return False
            pending.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return False
            pending.extend(zip(a, b, strict=True))
        elif a is None or b is None:
            if a is not b:
                return False
        elif not (isinstance(a, str) and isinstance(b, str) and a == b):
            return False
    return True


# --- Conditional writes under a row lock ------------------------------------------------------

_ABSENT = object()  # a missing or expired key
_KEEP = object()  # leave the row's expiry as it is


@dataclass(frozen=True, slots=True)
class _Write:
    value: Any
    expires_at: Any  # a datetime, None (never expires) or _KEEP
    document: str | None = None  # the value already serialised, when the caller has it


def _expiry(seconds: int | None) -> datetime | None:
    return timezone.now() + timedelta(seconds=seconds) if seconds is not None else None


def _locked_write(
    columns: _Columns, key: str, decide: Callable[[Any], _Write | None]
) -> _Write | None:
    """Read `key` under a lock, let `decide` answer what to write, write it; one transaction.

    1. Read the key's row with `SELECT … FOR UPDATE` (PostgreSQL; a concurrent writer of the
       same key waits here until this transaction ends). On SQLite the transaction is
       IMMEDIATE: it holds the database's write lock from its first statement.
    2. `decide(current)` gets the stored value, or _ABSENT for a missing or expired key, and
       answers a _Write or None (leave the key alone). It may raise StateError.
    3. UPDATE the locked row; with no row, INSERT … ON CONFLICT DO NOTHING. When a concurrent
       run inserted the key in between, nothing was written: start again at 1, where its row
       is now there to lock.

    Returns the _Write that was stored, or None.
    """
    vendor = connection.vendor
    for _attempt in range(_WRITE_ATTEMPTS):
        with transaction.atomic(), connection.cursor() as cursor:
            now = timezone.now()
            cursor.execute(
                _locked_select_sql(vendor),
                [
                    _prep_datetime("expires_at", now),
                    *_prep(columns, with_customer=False),
                    key,
                ],
            )
            row = cursor.fetchone()
            if row is None or row[2]:
                current = _ABSENT
            else:
                current = _field("value").from_db_value(row[1], None, connection)
            write = decide(current)
            if write is None:
                return None
            document = write.document if write.document is not None else _serialize(write.value)
            if row is not None:
                keep = write.expires_at is _KEEP
                cursor.execute(
                    _update_sql(vendor, keep_expiry=keep),
                    [
                        document,
                        *([] if keep else [_prep_datetime("expires_at", write.expires_at)]),
                        _prep_datetime("updated_at", now),
                        row[0],
                    ],
                )
                return write
            expires_at = None if write.expires_at is _KEEP else write.expires_at
            cursor.execute(
                _insert_sql(vendor, on_conflict="DO NOTHING"),
                [
                    *_prep(columns),
                    key,
                    document,
                    _prep_datetime("expires_at", expires_at),
                    _prep_datetime("updated_at", now),
                ],
            )
            if cursor.rowcount == 1:
                return write
    raise StateBusy(f"State key {_show(key)} is being changed by many runs at once; try again.")


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


def _column(name: str) -> str:
    return connection.ops.quote_name(StateEntry._meta.get_field(name).column)


def _table() -> str:
    return connection.ops.quote_name(StateEntry._meta.db_table)


@cache
def _insert_sql(vendor: str, *, on_conflict: str) -> str:
    # The value arrives already serialised (it was measured); PostgreSQL casts the text itself.
    value_placeholder = "%s::jsonb" if vendor == "postgresql" else "%s"
    placeholders = [value_placeholder if name == "value" else "%s" for name in _INSERTED]
    return (
        f"INSERT INTO {_table()} ({', '.join(_column(n) for n in _INSERTED)}) "
        f"VALUES ({', '.join(placeholders)}) "
        f"ON CONFLICT ({', '.join(_column(n) for n in _UNIQUE)}) {on_conflict}"
    )


@cache
def _upsert_sql(vendor: str) -> str:
    return _insert_sql(
        vendor,
        on_conflict="DO UPDATE SET "
        + ", ".join(f"{_column(n)} = EXCLUDED.{_column(n)}" for n in _UPDATED),
    )


@cache
def _insert_if_absent_sql(vendor: str) -> str:
    # The update applies only over an expired row; a live one makes the statement a no-op
    # (no row changed), which is how the caller learns that the key was there.
    expires = f"{_table()}.{_column('expires_at')}"
    return _upsert_sql(vendor) + f" WHERE {expires} IS NOT NULL AND {expires} <= %s"


@cache
def _locked_select_sql(vendor: str) -> str:
    where = " AND ".join(f"{_column(name)} = %s" for name in _UNIQUE)
    expires = _column("expires_at")
    lock = " FOR UPDATE" if vendor == "postgresql" else ""
    return (
        f"SELECT {_column('id')}, {_column('value')}, "
        f"({expires} IS NOT NULL AND {expires} <= %s) "
        f"FROM {_table()} WHERE {where}{lock}"
    )


@cache
def _update_sql(vendor: str, *, keep_expiry: bool) -> str:
    value_placeholder = "%s::jsonb" if vendor == "postgresql" else "%s"
    assignments = [f"{_column('value')} = {value_placeholder}"]
    if not keep_expiry:
        assignments.append(f"{_column('expires_at')} = %s")
    assignments.append(f"{_column('updated_at')} = %s")
    return f"UPDATE {_table()} SET {', '.join(assignments)} WHERE {_column('id')} = %s"


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
