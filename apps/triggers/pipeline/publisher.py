"""Outbox → Redis Stream.

The receiver's transaction wrote the event and its outbox row; the publisher adds each
unpublished row's event to the stream and only then marks the row published. A crash between
the two publishes it again on the next pass (a duplicate entry, harmless: routing is
idempotent); Redis down leaves the rows unpublished, retried on every pass, while the receiver
keeps accepting. Several `events` processes share the work: each pass takes its rows with
FOR UPDATE SKIP LOCKED (PostgreSQL), so two publishers do not add the same rows."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from apps.triggers.models import Outbox
from apps.triggers.pipeline import faults
from apps.triggers.pipeline.stream import STREAM, WAKE_KEY, client
from apps.triggers.receive import NOTIFY_CHANNEL

logger = logging.getLogger("fastn.triggers")

BATCH = 500
# A published row whose event is still not routed this long after: its stream entry was lost
# (Redis restarted without its data, or the stream was deleted). It is published again.
REPUBLISH_AFTER = timedelta(seconds=60)


def outbox_publish(*, batch: int = BATCH) -> int:
    """Publish one batch of unpublished outbox rows; answers how many (0: none waiting).
    Raises redis.RedisError when Redis is unreachable (the rows stay unpublished)."""
    with transaction.atomic():
        rows = Outbox.objects.filter(published_at__isnull=True).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        pending = list(rows.values_list("id", "event_id")[:batch])
        if not pending:
            return 0
        add(event_id for _id, event_id in pending)
        faults.maybe_crash("publisher-after-xadd")
        Outbox.objects.filter(id__in=[row_id for row_id, _event in pending]).update(
            published_at=timezone.now()
        )
    return len(pending)


def outbox_republish_lost(*, batch: int = BATCH) -> int:
    """Publish again the rows published more than REPUBLISH_AFTER ago whose event is still
    not routed (the row is deleted when its event is routed)."""
    stale_before = timezone.now() - REPUBLISH_AFTER
    with transaction.atomic():
        rows = Outbox.objects.filter(published_at__lt=stale_before).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        lost = list(rows.values_list("id", "event_id")[:batch])
        if not lost:
            return 0
        add(event_id for _id, event_id in lost)
        Outbox.objects.filter(id__in=[row_id for row_id, _event in lost]).update(
            published_at=timezone.now()
        )
    logger.warning("Published %d events again: their stream entries were lost.", len(lost))
    return len(lost)


def add(event_ids) -> None:
    with client().pipeline(transaction=False) as pipe:
        for event_id in event_ids:
            pipe.xadd(STREAM, {"event": str(event_id)})
        pipe.execute()


class Waker:
    """Blocks until a receiver announces a new outbox row, or the timeout: on PostgreSQL by
    LISTENing on the channel the receivers NOTIFY (a connection of its own, outside Django's),
    elsewhere by popping the Redis list they push to. A broken listening connection is
    replaced at the next wait; meanwhile the publisher polls (once per timeout)."""

    def __init__(self) -> None:
        self.listener: psycopg.Connection | None = None

    def wait(self, timeout_s: float) -> None:
        if connection.vendor != "postgresql":
            r = client()
            if r.blpop([WAKE_KEY], timeout=timeout_s) is not None:
                r.delete(WAKE_KEY)
            return
        try:
            if self.listener is None:
                self.listener = psycopg.connect(
                    **connection.get_connection_params(), autocommit=True
                )
                self.listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
            woken = list(self.listener.notifies(timeout=timeout_s, stop_after=1))
            if woken:
                # Several receivers may have notified: one pass publishes all their rows.
                list(self.listener.notifies(timeout=0.001))
        except psycopg.Error as exc:
            logger.warning("Listening for new events failed (polling meanwhile): %s", exc)
            self.close()
            time.sleep(timeout_s)

    def close(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(psycopg.Error):
                self.listener.close()
            self.listener = None
