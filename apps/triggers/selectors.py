"""Reads of triggers and events for the public API: the webhook receiver's trigger lookup
(hand-written, it is on every webhook's path: see fastn_console/rawsql.py) and an event with
its deliveries."""

from __future__ import annotations

import functools
import uuid

from apps.environments.models import DRAFT, TEST
from apps.spaces.models import Customer, Space
from apps.triggers.models import Delivery, Event, Route, Trigger
from apps.triggers.receive import HTTP_KINDS
from fastn_console import rawsql


def trigger_for_webhook(space_id: str, webhook_id: str) -> Trigger | None:
    """The webhook (or app-event) trigger with this id in this Space, enabled or not; None
    for anything else, a malformed Space id included."""
    try:
        space_uuid = uuid.UUID(space_id)
    except ValueError:
        return None
    if not webhook_id or len(webhook_id) > 64:
        return None
    row = rawsql.fetchone(
        _trigger_sql(),
        [rawsql.db_value(Trigger, "space", space_uuid), webhook_id, *HTTP_KINDS],
    )
    return rawsql.instance(Trigger, row) if row else None


@functools.cache
def _trigger_sql() -> str:
    return (
        f"SELECT {rawsql.columns(Trigger)} FROM {rawsql.table(Trigger)}"
        " WHERE space_id = %s AND webhook_id = %s AND kind IN (%s, %s)"
    )


def trigger_reachable_with_test_key(trigger: Trigger) -> bool:
    """A test API key reaches DRAFT and `test` only (DESIGN.md §6): a trigger whose every
    route targets one of those."""
    environments = Route.objects.filter(trigger=trigger).values_list("environment", flat=True)
    return all(env.upper() == DRAFT or env.lower() == TEST for env in environments)


def event_for_api(space: Space, event_id: str, *, customer: Customer | None = None) -> Event | None:
    """The Space's event (the customer's only, when the caller names one), with its
    deliveries and their runs' status prefetched; None when there is no such event."""
    try:
        uuid.UUID(event_id)
    except ValueError:
        return None
    events = Event.objects.filter(space=space, pk=event_id)
    if customer is not None:
        events = events.filter(customer=customer)
    event = events.defer("body", "payload", "headers").first()
    if event is None:
        return None
    event.delivery_list = list(
        Delivery.objects.filter(event=event)
        .select_related("execution")
        .only(
            "route_key", "workflow_name", "status", "attempts", "error", "next_attempt_at",
            "execution__id", "execution__status", "event_id",
        )
        .order_by("id")
    )  # fmt: skip
    return event
