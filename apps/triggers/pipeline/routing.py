"""Normalize and route one event: the consumer's work for each stream entry.

The event was normalized when it was accepted (its SHA-256 idempotency key decided whether it
is a duplicate, apps/triggers/receive.py); here its routes are matched and one Delivery is
written per matching route — started at once for a parallel trigger, waiting in line for a
sequential one — all in one transaction with `routed_at` and the removal of its outbox row.
A second stream entry for the same event (republished, or redelivered after a crash before
XACK) finds it routed and changes nothing."""

from __future__ import annotations

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
from apps.triggers.pipeline.delivery import delivery_attempt, event_settle, lock_event

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
            routes = [
                r for r in trigger.routes.select_related("workflow") if route_matches(r, event)
            ]
            if trigger.execution_mode == ExecutionMode.SEQUENTIAL and routes:
                sequential = trigger.id
            for route in routes:
                delivery = Delivery.objects.create(
                    event=event,
                    trigger=trigger,
                    route=route,
                    route_key=str(route.pk),
                    workflow_name=route.workflow.name,
                    status=DeliveryStatus.WAITING,
                    created_at=now,
                )
                if sequential is None:
                    delivery_attempt(delivery, event, route)
            Event.objects.filter(pk=event.pk).update(routed_at=now)
            event_settle(event)
        Outbox.objects.filter(event_id=event.id).delete()
    return Routed(event.status, sequential)


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
