"""Normalize and route one event: the consumer's work for each stream entry.

The event was normalized when it was accepted (its SHA-256 idempotency key decided whether it
is a duplicate, apps/triggers/receive.py); here its routes are matched and one Delivery is
written per matching route — started at once for a parallel trigger, waiting in line for a
sequential one — all in one transaction with `routed_at` and the removal of its outbox row.
A second stream entry for the same event (republished, or redelivered after a crash before
XACK) finds it routed and changes nothing."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.triggers.filters import FilterError, matches, parse_filters
from apps.triggers.models import (
    Delivery,
    DeliveryStatus,
    Event,
    EventStatus,
    ExecutionMode,
    Outbox,
    Route,
)
from apps.triggers.pipeline.delivery import delivery_attempt, lock_event, status_for
from apps.triggers.pipeline.targets import route_targets
from fastn_console import rawsql

logger = logging.getLogger("fastn.triggers")


@dataclass(frozen=True)
class Routed:
    """What routing did: `outcome` is the event's status after it (or "missing" / "already
    routed"); `sequential_trigger`: the id of a sequential trigger whose line just grew."""

    outcome: str
    sequential_trigger: object = None


def route_matches(route: Route, event: Event) -> bool:
    """The route's filter rows (ANDed) hold for the event's payload and headers. Rows that do
    not parse (only possible in data written around the forms) match nothing."""
    if not route.filters:
        return True
    try:
        filters = parse_filters(route.filters)
    except FilterError as exc:
        logger.warning("Route %s has an invalid filter, skipped: %s", route.pk, exc)
        return False
    return matches(filters, event.payload, event.headers)


def event_route(event_id) -> Routed:
    """1. lock the event; stop if it is gone or already routed;
    2. match its trigger's routes;
    3. per matching route a Delivery: a parallel trigger's starts its run now (the run is
       dispatched when this transaction commits), a sequential trigger's waits in line;
    4. mark it routed, settle its status, delete its outbox row — all in one transaction."""
    with transaction.atomic():
        event = lock_event(event_id)
        if event is None:
            return Routed("missing")
        if event.routed_at is not None or event.status != EventStatus.RECEIVED:
            Outbox.objects.filter(event_id=event.id).delete()
            return Routed("already routed")
        trigger = event.trigger
        now = timezone.now()
        sequential = None
        if trigger is None:
            event.error = "The trigger was deleted before the event could be routed."
            Event.objects.filter(pk=event.pk).update(
                status=EventStatus.FAILED, routed_at=now, error=event.error
            )
            event.status = EventStatus.FAILED
        else:
            targets = [t for t in route_targets(trigger.id) if route_matches(t.route, event)]
            if trigger.execution_mode == ExecutionMode.SEQUENTIAL and targets:
                sequential = trigger.id
            statuses = []
            for target in targets:
                delivery = Delivery(
                    event_id=event.id, trigger_id=trigger.id, route_id=target.route.pk,
                    route_key=str(target.route.pk), workflow_name=target.workflow.name,
                    status=DeliveryStatus.WAITING, created_at=now,
                )  # fmt: skip
                if sequential is None:
                    delivery_attempt(delivery, event, target.route, target)
                else:
                    rawsql.insert(delivery)
                statuses.append(delivery.status)
            event.status = status_for(statuses)
            mark_routed(event, now)
            return Routed(event.status, sequential)
        rawsql.execute(_unqueue_sql(), [rawsql.db_value(Outbox, "event", event.id)])
    return Routed(event.status, sequential)


def mark_routed(event: Event, now) -> None:
    """The event routed, with its status, and out of the outbox. Every event passes here:
    hand-written (see fastn_console/rawsql.py), one statement on PostgreSQL."""
    event_id = rawsql.db_value(Event, "id", event.id)
    routed = [rawsql.db_value(Event, "routed_at", now), event.status, event_id]
    if rawsql.db().vendor == "postgresql":
        rawsql.execute(f"WITH gone AS ({_unqueue_sql()}) {_routed_sql()}", [event_id, *routed])
        return
    rawsql.execute(_routed_sql(), routed)
    rawsql.execute(_unqueue_sql(), [event_id])


@functools.cache
def _routed_sql() -> str:
    return f"UPDATE {rawsql.table(Event)} SET routed_at = %s, status = %s WHERE id = %s"


@functools.cache
def _unqueue_sql() -> str:
    return f"DELETE FROM {rawsql.table(Outbox)} WHERE event_id = %s"


def event_fail_unroutable(event_id, error: str) -> None:
    """Give up on an event whose routing keeps failing (its stream entry was delivered too
    many times): failed, with the error, out of the outbox."""
    with transaction.atomic():
        event = lock_event(event_id)
        if event is None or event.routed_at is not None:
            return
        Event.objects.filter(pk=event.pk).update(
            status=EventStatus.FAILED, routed_at=timezone.now(), error=error[:2000]
        )
        Outbox.objects.filter(event_id=event.id).delete()
