"""Accepting an event: the first stage of the pipeline (DESIGN.md §5), shared by every source.

The webhook receiver (apps/api/webhooks.py), "Send test event", the scheduler and app events
all call `event_accept`. In one transaction it decides whether the event is new, and writes it
with its outbox row: once that commits the event is durable, the caller may answer 2xx, and
the pipeline (apps/triggers/pipeline) will route it even if Redis is down now or the `events`
process is stopped.

Duplicates. An event is identified, in this order, by:
1. `event_key` given by the caller (a schedule's due time);
2. the value at the trigger's deduplication path (`dedup_path`: in the body, or a
   `$headers.` path), when present;
3. the sender's event id: `webhook-id` (Standard Webhooks), `x-fastn-event-id` or
   `idempotency-key`;
4. for a signed request without an id, its signature and timestamp (a replayed request).
Events started by a person (`manual`, `test`) are identified only by `event_key`: a click is
meant. The identity is hashed (SHA-256) with the trigger's id; the first event with a hash
owns it for 24 hours (a DedupKey row, whose primary key makes the claim atomic: of 50
concurrent deliveries one inserts it, the others wait for its transaction and then find it).
A duplicate is recorded as an event of its own (status `duplicate`, `duplicate_of` the first:
Activity → Events shows it) without an outbox row, and the caller answers the first's id."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.executions.headers import workflow_headers
from apps.triggers.filters import FilterError, extract
from apps.triggers.models import (
    DedupKey,
    Event,
    EventStatus,
    Outbox,
    Source,
    Trigger,
    WebhookRequest,
)
from fastn_console import rawsql
from fastn_console.strictjson import JsonInputError, parse_json

logger = logging.getLogger("fastn.triggers")

DEDUP_WINDOW = timedelta(hours=24)
SENDER_ID_HEADERS = ("webhook-id", "x-fastn-event-id", "idempotency-key")
# A person's click is meant: never suppressed as a repeat unless the caller names the event.
PERSON_SOURCES = frozenset({Source.MANUAL, Source.TEST})
# The request inspector keeps the last KEEP_REQUESTS requests of a trigger; older rows are
# deleted on one insert in TRIM_EVERY (by its id), so the table holds at most about
# KEEP_REQUESTS + TRIM_EVERY rows per trigger and a request rarely pays for the DELETE.
KEEP_REQUESTS = 50
TRIM_EVERY = 16
# Stream and wake-up keys of the pipeline (apps/triggers/pipeline/stream.py uses them too).
WAKE_KEY = "fastn:events:wake"


@dataclass(frozen=True)
class Accepted:
    """`event`: the new event, or for a duplicate the first event with the same identity
    (only its id is loaded). `duplicate`: this request repeated that event."""

    event: Event
    duplicate: bool


def event_accept(
    trigger: Trigger,
    *,
    source: str,
    headers: dict[str, str],
    body: bytes,
    content_type: str = "",
    event_key: str | None = None,
    log_request: bool = False,
) -> Accepted:
    """Record an incoming event durably, or recognise it as a duplicate. `log_request`: also
    record the request in the trigger's request inspector (the webhook receiver does).

    1. parse the body (JSON, or a form) and work out the event's identity;
    2. in one transaction: claim the identity (DedupKey), insert the event and its outbox row
       (a duplicate: the event row only, pointing at the first), and the inspector's row;
    3. after commit, wake the publisher (best effort: it also polls)."""
    # PostgreSQL text and JSON cannot hold NUL, whatever a client manages to send.
    headers = {
        name.lower().replace("\x00", ""): value.replace("\x00", "")
        for name, value in headers.items()
    }
    content_type = content_type.replace("\x00", "")
    payload = parse_payload(body, content_type)
    key = idempotency_key(trigger, source, headers, payload, event_key)
    now = timezone.now()
    event = Event(
        space_id=trigger.space_id,
        trigger=trigger,
        trigger_name=trigger.name,
        customer_id=trigger.customer_id,
        source=source,
        idempotency_key=key or "",
        headers=workflow_headers(headers),
        content_type=content_type[:200],
        body=bytes(body),
        payload=payload,
        received_at=now,
    )
    with transaction.atomic():
        first_id = dedup_claim(key, trigger, event.id, now) if key else event.id
        duplicate = first_id != event.id
        if duplicate:
            event.status = EventStatus.DUPLICATE
            event.duplicate_of_id = first_id
        rawsql.insert(event)
        if not duplicate:
            rawsql.insert(Outbox(event_id=event.id, created_at=now))
        if log_request:
            outcome = f"Duplicate of event {first_id}" if duplicate else "Accepted"
            request_log(trigger, 200 if duplicate else 202, outcome, event_id=event.id, now=now)
    if duplicate:
        return Accepted(rawsql.reference(Event, first_id), True)
    wake_publisher()
    return Accepted(event, False)


def parse_payload(body: bytes, content_type: str):
    """The body as data: JSON (by its content type, or any body that parses when none is
    given), or a form (`application/x-www-form-urlencoded`: a value per name, a list when a
    name repeats). None when it is neither: the event keeps its raw body and is still
    routable on its headers."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if "json" in kind or kind in ("", "text/plain"):
        if not body.strip():
            return None
        try:
            return parse_json(body)
        except JsonInputError:
            return None
    if kind == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        if any(
            "\x00" in name or any("\x00" in v for v in values) for name, values in fields.items()
        ):
            return None  # PostgreSQL's JSON cannot hold NUL
        return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
    return None


def idempotency_key(
    trigger: Trigger, source: str, headers: dict[str, str], payload, event_key: str | None
) -> str | None:
    """SHA-256 (hex) of the trigger's id and what identifies the event (module docstring), or
    None when nothing does."""
    value = identity(trigger, source, headers, payload, event_key)
    if value is None:
        return None
    return hashlib.sha256(f"{trigger.id}\n{value}".encode("utf-8", "surrogatepass")).hexdigest()


def identity(trigger, source, headers, payload, event_key) -> str | None:
    if event_key is not None:
        return f"key:{event_key}"
    if source in PERSON_SOURCES:
        return None
    if trigger.dedup_path:
        try:
            found, value = extract(payload, trigger.dedup_path, headers)
        except FilterError:  # a malformed path (the forms refuse them): no key from it
            found, value = False, None
        if found and value is not None and value != "":
            return f"path:{json.dumps(value, sort_keys=True, ensure_ascii=False)}"
    for name in SENDER_ID_HEADERS:
        if headers.get(name, "").strip():
            return f"id:{headers[name].strip()}"
    signature = headers.get("x-fastn-signature", "").strip()
    if signature:
        return f"sig:{headers.get('x-fastn-timestamp', '').strip()}:{signature}"
    return None


def dedup_claim(key: str, trigger: Trigger, event_id: uuid.UUID, now) -> uuid.UUID:
    """The id of the event that owns `key`: `event_id` if this call claimed it (no live owner:
    none yet, or its 24 hours are over), else the first event's. Atomic: a concurrent claim
    of the same key waits on this row until this transaction ends (PostgreSQL's ON CONFLICT;
    SQLite runs one writer at a time)."""
    row = rawsql.fetchone(
        _claim_sql(),
        [
            key,
            rawsql.db_value(DedupKey, "trigger", trigger.id),
            rawsql.db_value(DedupKey, "event", event_id),
            rawsql.db_value(DedupKey, "expires_at", now + DEDUP_WINDOW),
            rawsql.db_value(DedupKey, "expires_at", now),
        ],
    )
    if row is not None:
        return event_id
    owner = rawsql.fetchone(_owner_sql(), [key])
    # No row at all: it expired and was purged between the two statements; the key is free,
    # and a retry claims it.
    if owner is None:
        return dedup_claim(key, trigger, event_id, now)
    return rawsql.instance(DedupKey, owner, only=("event",)).event_id


@functools.cache
def _claim_sql() -> str:
    table = rawsql.table(DedupKey)
    key, trigger, event, expires = (
        rawsql.quote(DedupKey._meta.get_field(name).column)
        for name in ("key", "trigger", "event", "expires_at")
    )
    return (
        f"INSERT INTO {table} ({key}, {trigger}, {event}, {expires}) VALUES (%s, %s, %s, %s)"
        f" ON CONFLICT ({key}) DO UPDATE SET {trigger} = excluded.{trigger},"
        f" {event} = excluded.{event}, {expires} = excluded.{expires}"
        f" WHERE {table}.{expires} <= %s RETURNING {key}"
    )


@functools.cache
def _owner_sql() -> str:
    return (
        f"SELECT {rawsql.columns(DedupKey, only=('event',))} FROM {rawsql.table(DedupKey)}"
        f" WHERE {rawsql.quote('key')} = %s"
    )


def request_log(trigger: Trigger, status: int, outcome: str, *, event_id=None, now=None) -> None:
    """One row of the trigger's request inspector; every TRIM_EVERY-th insert deletes the
    rows beyond the last KEEP_REQUESTS (by id: rows are inserted in time order)."""
    row = WebhookRequest(
        trigger_id=trigger.id,
        received_at=now or timezone.now(),
        status_code=status,
        outcome=outcome[:200],
        event_id=event_id,
    )
    rawsql.insert(row)
    if row.pk % TRIM_EVERY == 0:
        rawsql.execute(_trim_sql(), [trigger.id, trigger.id, KEEP_REQUESTS - 1])


@functools.cache
def _trim_sql() -> str:
    table = rawsql.table(WebhookRequest)
    return (
        f"DELETE FROM {table} WHERE trigger_id = %s AND id < (SELECT id FROM {table}"
        " WHERE trigger_id = %s ORDER BY id DESC LIMIT 1 OFFSET %s)"
    )


# --- waking the publisher --------------------------------------------------------------------

_wake_client = None
_wake_paused_until = 0.0
# After a failed wake-up (Redis down), requests stop trying for this long: an event is durable
# without it and the publisher polls the outbox anyway, so a request must not pay a
# connection attempt each time.
WAKE_PAUSE_S = 2.0


def wake_publisher() -> None:
    """Tell the publisher that the outbox has a row (a LPUSH it blocks on), once the event is
    committed. Best effort: failures are logged once per pause, never raised."""
    if connection.in_atomic_block:
        transaction.on_commit(wake_publisher)
        return
    global _wake_client, _wake_paused_until
    if time.monotonic() < _wake_paused_until:
        return
    try:
        if _wake_client is None:
            _wake_client = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
            )
        with _wake_client.pipeline(transaction=False) as pipe:
            pipe.lpush(WAKE_KEY, 1).ltrim(WAKE_KEY, 0, 0).execute()
    except redis.RedisError as exc:
        _wake_paused_until = time.monotonic() + WAKE_PAUSE_S
        logger.warning("Could not wake the event publisher (it polls the outbox): %s", exc)
