"""Accepting an event: the first stage of the pipeline (DESIGN.md §5), shared by every source.

The webhook receiver (apps/api/webhooks.py), "Send test event", the scheduler and app events
all call `event_accept` (the receiver's common cases take `event_accept_public`, the same in
one statement). In one transaction it decides whether the event is new, and writes it with
its outbox row: once that commits the event is durable, the caller may answer 2xx, and
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
import re
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.environments.models import DRAFT, TEST
from apps.executions.headers import workflow_headers
from apps.spaces.models import ApiKey, ApiKeyMode
from apps.triggers.filters import FilterError, extract
from apps.triggers.models import (
    DedupKey,
    Event,
    EventStatus,
    Kind,
    Outbox,
    Route,
    Source,
    Subscription,
    Trigger,
    WebhookAuth,
    WebhookRequest,
)
from fastn_console import rawsql
from fastn_console.strictjson import JsonInputError, parse_json

logger = logging.getLogger("fastn.triggers")

DEDUP_WINDOW = timedelta(hours=24)
# An API key's last use is recorded at most this often (as apps/api/auth.py does).
KEY_USE_RESOLUTION = timedelta(seconds=60)
SENDER_ID_HEADERS = ("webhook-id", "x-fastn-event-id", "idempotency-key")
# A person's click is meant: never suppressed as a repeat unless the caller names the event.
PERSON_SOURCES = frozenset({Source.MANUAL, Source.TEST})
# The request inspector shows the last KEEP_REQUESTS requests of a trigger: the accepted ones
# are their events; a refused one has a row of its own (WebhookRequest: there is no event),
# and older refusals are deleted on one such insert in TRIM_EVERY (by its id), so the table
# holds at most about KEEP_REQUESTS + TRIM_EVERY rows per trigger.
KEEP_REQUESTS = 50
TRIM_EVERY = 16
# How a receiver wakes the publisher (apps/triggers/pipeline/publisher.py waits on them): a
# PostgreSQL NOTIFY channel, or on SQLite a Redis list.
NOTIFY_CHANNEL = "fastn_outbox"
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
) -> Accepted:
    """Record an incoming event durably, or recognise it as a duplicate (the request
    inspector shows the event: apps/triggers/selectors.py trigger_requests).

    1. parse the body (JSON, or a form) and work out the event's identity;
    2. in one transaction: claim the identity (DedupKey), insert the event and its outbox row
       (a duplicate: the event row only, pointing at the first) — an event without an
       identity on PostgreSQL: both in one statement (insert_chain);
    3. wake the publisher at commit (it also polls)."""
    # PostgreSQL text and JSON cannot hold NUL, whatever a client manages to send.
    headers, content_type = clean_headers(headers), content_type.replace("\x00", "")
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
    if key is None and connection.vendor == "postgresql":
        values = {f.name: getattr(event, f.attname) for f in _fields(Event)}
        insert_chain(values)
        return Accepted(event, False)
    with transaction.atomic():
        first_id = dedup_claim(key, trigger, event.id, now) if key else event.id
        duplicate = first_id != event.id
        if duplicate:
            event.status = EventStatus.DUPLICATE
            event.duplicate_of_id = first_id
        rawsql.insert(event)
        if not duplicate:
            rawsql.insert(Outbox(event_id=event.id, created_at=now))
        if not duplicate:
            wake_publisher()
    if duplicate:
        return Accepted(rawsql.reference(Event, first_id), True)
    return Accepted(event, False)


def event_accept_public(
    space_id: str,
    webhook_id: str,
    *,
    headers: dict[str, str],
    body: bytes,
    content_type: str,
    api_key_hash: str = "",
) -> uuid.UUID | None:
    """The webhook receiver's shortcut for the common cases, on PostgreSQL: a trigger without
    a signing secret or a deduplication path, public or reached with a valid API key (the
    SHA-256 of the key the request carries: `api_key_hash`), and a request that names no event
    id. The trigger is looked up, the key checked (and its last use recorded, once a minute)
    and the event, its outbox row and the inspector's row written in one statement — the rows
    `event_accept` would have written. Answers the event's id; None when the case does not
    apply (another kind of trigger, an unknown or disabled one, a missing or refused key,
    SQLite): the caller then takes the full path, which also explains a refusal."""
    if connection.vendor != "postgresql":
        return None
    headers, content_type = clean_headers(headers), content_type.replace("\x00", "")
    if any(headers.get(name, "").strip() for name in (*SENDER_ID_HEADERS, "x-fastn-signature")):
        return None  # the event has an identity: duplicates must be checked
    try:
        space_uuid = uuid.UUID(space_id)
    except ValueError:
        return None
    event_id = uuid.uuid4()
    values = {
        "id": event_id,
        "headers": workflow_headers(headers),
        "content_type": content_type[:200],
        "body": bytes(body),
        "payload": parse_payload(body, content_type),
        "received_at": timezone.now(),
    }
    now = values["received_at"]
    lookup = [space_uuid, webhook_id[:64], api_key_hash, now, api_key_hash,
              now - KEY_USE_RESOLUTION]  # fmt: skip
    if insert_chain(values, lookup=lookup) is None:
        return None
    return event_id


# --- PostgreSQL: an event in one statement --------------------------------------------------

# Kinds that receive events over HTTP at /api/v1/clients/{space}/webhooks/{id}.
HTTP_KINDS = (Kind.WEBHOOK, Kind.APP_EVENT)
# Event columns taken from the looked-up trigger `t` (event_accept_public).
FROM_TRIGGER = {
    "space": "t.space_id",
    "trigger": "t.id",
    "trigger_name": "t.name",
    "customer": "t.customer_id",
    "source": f"CASE WHEN t.kind = '{Kind.APP_EVENT}' THEN '{Source.APP_EVENT}'"
    f" ELSE '{Source.WEBHOOK}' END",
}
# Code constants written into the SQL as literals (never anything a request sent).
_LITERAL = re.compile(r"[a-z0-9-]*")


def insert_chain(values: dict[str, Any], *, lookup=None):
    """Write a new event without an identity (nothing to check for duplicates) and its outbox
    row in one statement — data-modifying CTEs, the outbox INSERT selecting FROM the event's,
    atomic by itself: one round trip where a transaction takes four — and wake the publisher
    (pg_notify, delivered when it commits). `values`: the event's fields by name (the others
    take their constant defaults, written in the SQL). `lookup` (space id, webhook id, then the
    API key's hash, the time and the hash and time again for recording the key's use) finds
    the trigger in the same statement and fills the event's trigger fields (FROM_TRIGGER), for
    `event_accept_public`. Answers the trigger's id, or None when the lookup found no trigger
    (nothing written). Every accepted webhook comes here, so it is hand-written (see
    fastn_console/rawsql.py), with as few parameters as can be (each costs psycopg more than
    PostgreSQL) and the values as psycopg takes them."""
    adapt_json = rawsql.db().ops.adapt_json_value
    params: list = list(lookup or [])
    given = tuple(name for name in _field_names() if name in values)
    for name in given:
        value = values[name]
        if value is not None and name in _json_fields():
            value = adapt_json(value, Event._meta.get_field(name).encoder)  # None: SQL NULL
        params.append(value)
    row = rawsql.fetchone(_chain_sql(lookup is not None, given), params)
    return None if row is None else row[0]


@functools.cache
def _chain_sql(lookup: bool, given: tuple[str, ...]) -> str:
    q, trigger_table = rawsql.quote, rawsql.table(Trigger)
    ctes = []
    if lookup:
        keys, routes = rawsql.table(ApiKey), rawsql.table(Route)
        # A live key of the trigger's Space, or a test key when every route targets DRAFT or
        # `test` (DESIGN.md §6; apps/api/webhooks.py check_api_key says the same for refusals).
        key_ok = (
            f"EXISTS (SELECT 1 FROM {keys} k WHERE k.key_hash = %s AND k.space_id = tr.space_id"
            f" AND k.revoked_at IS NULL AND (k.mode = '{ApiKeyMode.LIVE}' OR NOT EXISTS ("
            f"SELECT 1 FROM {routes} r WHERE r.trigger_id = tr.id"
            f" AND upper(r.environment) <> '{DRAFT}' AND lower(r.environment) <> '{TEST}')))"
        )
        kinds = ", ".join(f"'{kind}'" for kind in HTTP_KINDS)
        ctes.append(
            f"t AS (SELECT tr.id, tr.space_id, tr.customer_id, tr.name, tr.kind, tr.auth,"
            " tr.subscription"
            f" FROM {trigger_table} tr WHERE tr.space_id = %s AND tr.webhook_id = %s"
            f" AND tr.kind IN ({kinds}) AND tr.enabled AND tr.signing_secret_name = ''"
            f" AND tr.dedup_path = '' AND (tr.auth = '{WebhookAuth.NONE}'"
            f" OR (tr.auth = '{WebhookAuth.API_KEY}' AND {key_ok})))"
        )
        # An app event's first event from the provider: Subscribed (mark_subscribed). The
        # UPDATE touches a row only while the trigger is not Subscribed yet.
        ctes.append(
            f"sub AS (UPDATE {trigger_table} SET subscription = '{Subscription.SUBSCRIBED}',"
            " subscription_error = '' WHERE id = (SELECT t.id FROM t"
            f" WHERE t.kind = '{Kind.APP_EVENT}' AND t.subscription <> '{Subscription.SUBSCRIBED}')"
            " RETURNING 1)"
        )
        # The key's last use, at most once a minute (apps/api/auth.py mark_used).
        ctes.append(
            f"used AS (UPDATE {keys} SET last_used_at = %s WHERE key_hash = %s"
            " AND (last_used_at IS NULL OR last_used_at < %s)"
            f" AND EXISTS (SELECT 1 FROM t WHERE t.auth = '{WebhookAuth.API_KEY}') RETURNING 1)"
        )
    select = []
    for field in _fields(Event):
        if lookup and field.name in FROM_TRIGGER:
            select.append(FROM_TRIGGER[field.name])
        elif field.name in given:
            select.append("%s")
        else:
            select.append(_literal_default(field))
    ctes.append(
        f"e AS (INSERT INTO {rawsql.table(Event)} ({_columns(Event)}) SELECT {', '.join(select)}"
        f"{' FROM t' if lookup else ''} RETURNING id, trigger_id, received_at)"
    )
    ctes.append(
        f"o AS (INSERT INTO {rawsql.table(Outbox)} ({q('event_id')}, {q('created_at')})"
        " SELECT id, received_at FROM e RETURNING 1)"
    )
    notify = f"pg_notify('{NOTIFY_CHANNEL}', '')"
    return f"WITH {', '.join(ctes)} SELECT e.trigger_id, {notify} FROM e, o"


def mark_subscribed(trigger: Trigger) -> None:
    """An event reached an app event trigger's inbound URL from outside: the provider sends
    events there, so the trigger is Subscribed. One conditional UPDATE, only while it is not
    (the receiver's one-statement path does the same in its SQL: _chain_sql)."""
    if trigger.kind != Kind.APP_EVENT or trigger.subscription == Subscription.SUBSCRIBED:
        return
    Trigger.objects.filter(pk=trigger.pk).exclude(subscription=Subscription.SUBSCRIBED).update(
        subscription=Subscription.SUBSCRIBED, subscription_error=""
    )
    trigger.subscription, trigger.subscription_error = Subscription.SUBSCRIBED, ""


def _literal_default(field) -> str:
    """The field's default as an SQL literal: None, or a constant of the code (a status)."""
    if field.has_default() and callable(field.default):
        raise ValueError(f"Event.{field.name} has a computed default: pass its value")
    default = field.get_default()
    if default is None:
        return "NULL"
    if isinstance(default, str) and _LITERAL.fullmatch(default):
        return f"'{default}'"
    raise ValueError(f"Event.{field.name}: pass its value (no literal for {default!r})")


@functools.cache
def _field_names() -> tuple[str, ...]:
    return tuple(field.name for field in _fields(Event))


@functools.cache
def _json_fields() -> frozenset[str]:
    return frozenset(f.name for f in _fields(Event) if f.get_internal_type() == "JSONField")


@functools.cache
def _fields(model) -> tuple:
    """The model's columns but an automatic id."""
    return tuple(
        field for field in model._meta.concrete_fields
        if not (field.primary_key and field.get_internal_type() in ("AutoField", "BigAutoField"))
    )  # fmt: skip


@functools.cache
def _columns(model) -> str:
    return ", ".join(rawsql.quote(field.column) for field in _fields(model))


def clean_headers(headers: dict[str, str]) -> dict[str, str]:
    """Lower-cased names; no NUL anywhere (PostgreSQL text and JSON cannot hold it, whatever a
    client manages to send)."""
    return {
        name.lower().replace("\x00", ""): value.replace("\x00", "")
        for name, value in headers.items()
    }


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


def request_log(trigger: Trigger, status: int, outcome: str, *, now=None) -> None:
    """A refused request in the trigger's request inspector (an accepted one is its event);
    every TRIM_EVERY-th insert deletes the rows beyond the last KEEP_REQUESTS (by id: rows
    are inserted in time order)."""
    row = WebhookRequest(
        trigger_id=trigger.id,
        received_at=now or timezone.now(),
        status_code=status,
        outcome=outcome[:200],
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
    """Tell the publisher that the outbox has a row, once the event is committed. On
    PostgreSQL a NOTIFY in the writing transaction (delivered at its commit; the publisher
    LISTENs); elsewhere a LPUSH on Redis after commit that the publisher blocks on — best
    effort, failures logged once per pause, never raised: the publisher also polls."""
    if connection.vendor == "postgresql":
        rawsql.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
        return
    if connection.in_atomic_block:
        transaction.on_commit(_wake_by_redis)
        return
    _wake_by_redis()


def _wake_by_redis() -> None:
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
