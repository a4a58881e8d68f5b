"""Keeping the pipeline's tables and stream bounded, and nothing stuck: run by the `events`
process every minute (the stream trim and lost-entry check more often)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.triggers.models import DedupKey, Event
from apps.triggers.pipeline.deadletters import dead_letters_expire
from apps.triggers.pipeline.stream import GROUP, STREAM, client

logger = logging.getLogger("fastn.triggers")

BATCH = 5000
# A consumer (one per thread of an `events` process) with nothing pending and idle this long
# is gone: its name is removed from the group.
CONSUMER_GONE_MS = 3_600_000


def dedup_keys_purge() -> int:
    """Delete expired DedupKeys (an expired key is free anyway: this only bounds the table)."""
    return _delete_in_batches(DedupKey.objects.filter(expires_at__lt=timezone.now()))


def events_purge_old() -> int:
    """Delete events (with their deliveries and dead letters) older than the executions'
    retention (FASTN_EXECUTION_RETENTION_DAYS)."""
    cutoff = timezone.now() - timedelta(days=settings.FASTN_EXECUTION_RETENTION_DAYS)
    return _delete_in_batches(Event.objects.filter(received_at__lt=cutoff))


def consumers_forget_gone() -> int:
    r = client()
    removed = 0
    for consumer in r.xinfo_consumers(STREAM, GROUP):
        if consumer["pending"] == 0 and consumer["idle"] > CONSUMER_GONE_MS:
            r.xgroup_delconsumer(STREAM, GROUP, consumer["name"])
            removed += 1
    return removed


def housekeeping() -> dict[str, int]:
    counts = {
        "dedup_keys": dedup_keys_purge(),
        "dead_letters_expired": dead_letters_expire(),
        "events": events_purge_old(),
        "consumers": consumers_forget_gone(),
    }
    if any(counts.values()):
        logger.info("Event pipeline housekeeping: %s", counts)
    return counts


def _delete_in_batches(rows) -> int:
    total = 0
    model = rows.model
    while True:
        ids = list(rows.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        model.objects.filter(pk__in=ids).delete()
        total += len(ids)
