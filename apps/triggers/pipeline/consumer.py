"""Redis Stream → routing: a member of the consumer group.

Each entry is routed (apps/triggers/pipeline/routing.py), then acknowledged (XACK). A consumer
that dies between the two leaves its entries pending; any consumer claims them once they have
been idle FASTN_EVENTS_CLAIM_IDLE_SECONDS (XAUTOCLAIM) and routes them again, which changes
nothing for an event already routed: its runs were created in the routing transaction. An
entry whose routing raises stays pending and is retried the same way; after MAX_DELIVERIES
tries its event is marked failed, so one broken event cannot loop forever."""

from __future__ import annotations

import logging
import os
import socket
import uuid

import redis
from django.conf import settings
from django.db import DatabaseError

from apps.triggers.pipeline import faults
from apps.triggers.pipeline.routing import event_fail_unroutable, event_route
from apps.triggers.pipeline.sequential import sequence_advance
from apps.triggers.pipeline.stream import GROUP, STREAM, client, ensure_group

logger = logging.getLogger("fastn.triggers")

READ_COUNT = 32
MAX_DELIVERIES = 10


class Consumer:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._claim_cursor = "0-0"

    def read(self, *, block_ms: int = 1000) -> int:
        """Route the entries that arrive within `block_ms` (new ones, up to READ_COUNT);
        answers how many were handled."""
        read = lambda: client().xreadgroup(  # noqa: E731
            GROUP, self.name, {STREAM: ">"}, count=READ_COUNT, block=block_ms
        )
        try:
            response = read()
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            ensure_group()  # the first read, or Redis lost the stream (restarted empty)
            response = read()
        entries = [entry for _stream, stream_entries in response or [] for entry in stream_entries]
        return self.handle(entries)

    def claim(self) -> int:
        """Take over entries that another (dead) consumer left pending; route them."""
        idle_ms = settings.FASTN_EVENTS_CLAIM_IDLE_SECONDS * 1000
        try:
            reply = client().xautoclaim(
                STREAM, GROUP, self.name, idle_ms, start_id=self._claim_cursor, count=READ_COUNT
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            ensure_group()
            return 0
        cursor, entries = reply[0], reply[1]
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else cursor
        entries = [(entry_id, fields) for entry_id, fields in entries if fields is not None]
        if not entries:
            return 0
        tries = {
            p["message_id"]: p["times_delivered"]
            for p in client().xpending_range(
                STREAM, GROUP, min=entries[0][0], max=entries[-1][0], count=len(entries) * 4
            )
        }
        return self.handle(entries, tries)

    def handle(self, entries, tries: dict | None = None) -> int:
        """Route each entry's event; acknowledge the handled entries together at the end (one
        round trip: an entry routed but not acknowledged yet is only routed again, harmlessly,
        if this consumer dies first)."""
        done = []
        for entry_id, fields in entries:
            raw = (fields or {}).get(b"event", b"").decode(errors="replace")
            try:
                event_id = uuid.UUID(raw)
            except ValueError:
                logger.warning("Stream entry %s names no event (%r): dropped.", entry_id, raw[:80])
                done.append(entry_id)
                continue
            if self._route(entry_id, event_id, (tries or {}).get(entry_id, 1)):
                faults.maybe_crash("consumer-before-ack")
                done.append(entry_id)
        if done:
            client().xack(STREAM, GROUP, *done)
        return len(entries)

    def _route(self, entry_id, event_id, tries: int) -> bool:
        """Route the event; answers whether its entry may be acknowledged."""
        try:
            routed = event_route(event_id)
        except DatabaseError as exc:
            # Left pending: claimed again after the idle time, once the database is back.
            logger.warning("Could not route event %s (database): %s", event_id, exc)
            return False
        except Exception as exc:
            if tries >= MAX_DELIVERIES:
                logger.exception("Event %s failed routing %d times: marked failed", event_id, tries)
                event_fail_unroutable(event_id, f"The event could not be routed: {exc}")
                return True
            logger.exception("Could not route event %s (try %d)", event_id, tries)
            return False
        if routed.sequential_trigger is not None:
            try:
                sequence_advance(routed.sequential_trigger)
            except DatabaseError as exc:  # the next tick advances it
                logger.warning("Could not advance trigger %s: %s", routed.sequential_trigger, exc)
        return True
