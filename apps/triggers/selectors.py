"""Reads for triggers, always scoped to one Space.

The console's reads come first. The public API's follow: the webhook receiver's trigger lookup
(hand-written, it is on every webhook's path: see fastn_console/rawsql.py) and an event with
its deliveries."""

from __future__ import annotations

import functools
import uuid

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from apps.environments.models import DRAFT, LIVE, TEST
from apps.environments.selectors import space_environments
from apps.spaces.models import Customer, Space
from apps.triggers.models import Delivery, Event, Kind, Route, Trigger, WebhookRequest
from apps.workflows.models import Workflow
from fastn_console import rawsql

# --- Console --------------------------------------------------------------------------------

REQUESTS_SHOWN = 50
STATUSES = {"active": True, "disabled": False}


def _search(space: Space, *, q: str = "", status: str = "") -> QuerySet[Trigger]:
    rows = Trigger.objects.filter(space=space)
    if q:
        rows = rows.filter(
            Q(name__icontains=q) | Q(webhook_id__icontains=q) | Q(description__icontains=q)
        )
    if status in STATUSES:
        rows = rows.filter(enabled=STATUSES[status])
    return rows


def trigger_rows(space: Space, *, kind: str, q: str = "", status: str = "") -> QuerySet[Trigger]:
    """One tab of the Triggers page, newest first, with each row's route count."""
    return (
        _search(space, q=q, status=status)
        .filter(kind=kind)
        .select_related("space", "customer")
        .prefetch_related("routes")  # the cURL command's example body reads their filters
        .annotate(route_count=Count("routes"))
        .order_by("-created_at", "-id")
    )


def trigger_counts(space: Space, *, q: str = "", status: str = "") -> dict[str, int]:
    """The number on each tab, for the same search and status filter."""
    counts = dict(
        _search(space, q=q, status=status)
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    return {kind: counts.get(kind, 0) for kind in Kind.values}


def get_trigger_for_member(request, trigger_id) -> Trigger:
    """A trigger of the current Space, or 404: another Space's id looks like a missing one."""
    return get_object_or_404(
        Trigger.objects.select_related("space", "customer"), space=request.space, id=trigger_id
    )


def trigger_routes(trigger: Trigger) -> list[Route]:
    return list(trigger.routes.select_related("workflow").order_by("position", "id"))


def route_workflows(space: Space) -> QuerySet[Workflow]:
    """What a route may target: the Space's active (enabled) workflows."""
    return Workflow.objects.filter(space=space, enabled=True).only("id", "name", "slug", "space")


def route_environments(space: Space) -> list[tuple[str, str]]:
    """(value, label) of a route's Environment: the draft, `test` (which follows the latest
    published version), `live`, then the Space's named environments."""
    choices = [(DRAFT, "DRAFT"), (TEST, "test (latest published)"), (LIVE, "live")]
    for environment in space_environments(space):
        if not environment.builtin:
            choices.append((environment.slug, environment.name))
    return choices


def _with_executions() -> Prefetch:
    return Prefetch(
        "deliveries",
        queryset=Delivery.objects.select_related("execution").order_by("created_at", "id"),
    )


def trigger_requests(trigger: Trigger) -> list[WebhookRequest]:
    """The request inspector: the last requests to the trigger's URL, each with its event and
    the executions that event started."""
    return list(
        WebhookRequest.objects.filter(trigger=trigger)
        .select_related("event")
        .prefetch_related(Prefetch("event__deliveries", queryset=_with_executions().queryset))
        .order_by("-received_at", "-id")[:REQUESTS_SHOWN]
    )


def trigger_events(trigger: Trigger) -> list[Event]:
    """A schedule's last events (it has no requests): scheduled, manual and test runs."""
    return list(
        Event.objects.filter(trigger=trigger)
        .prefetch_related(_with_executions())
        .order_by("-received_at")[:REQUESTS_SHOWN]
    )


def get_trigger_event(trigger: Trigger, event_id) -> Event:
    """An event of this trigger with its deliveries and their executions, or 404."""
    return get_object_or_404(
        Event.objects.prefetch_related(_with_executions()), trigger=trigger, id=event_id
    )


# --- Public API -----------------------------------------------------------------------------

# Kinds that receive events over HTTP at /api/v1/clients/{space}/webhooks/{id}.
HTTP_KINDS = (Kind.WEBHOOK, Kind.APP_EVENT)


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
