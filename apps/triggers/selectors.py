"""Reads for triggers, always scoped to one Space.

The console's reads come first; the public API's follow them."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from apps.environments.models import DRAFT, LIVE, TEST
from apps.environments.selectors import space_environments
from apps.spaces.models import Space
from apps.triggers.models import Delivery, Event, Kind, Route, Trigger, WebhookRequest
from apps.workflows.models import Workflow

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
        .select_related("customer")
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
