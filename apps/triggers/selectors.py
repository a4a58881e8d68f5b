"""Reads for triggers, always scoped to one Space.

The console's reads come first. The public API's follow: the webhook receiver's trigger lookup
(hand-written, it is on every webhook's path: see fastn_console/rawsql.py) and an event with
its deliveries. Activity → Events and Activity → Dead letters close the module. What the event
pipeline reads for every event (a trigger's routes and what each would run) is not here but in
apps/triggers/pipeline/targets.py, beside the router that uses it."""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.environments.models import DRAFT, LIVE, TEST
from apps.environments.selectors import space_environments
from apps.executions.selectors import RANGES, parse_cursor
from apps.spaces.models import Customer, Space
from apps.triggers.filters import FilterError, explain, parse_filters
from apps.triggers.models import (
    DeadLetter,
    DeadLetterStatus,
    Delivery,
    Event,
    EventStatus,
    Kind,
    Route,
    Source,
    Trigger,
    WebhookRequest,
)
from apps.triggers.pipeline.deadletters import dead_letters_matching, expiry_cutoff
from apps.triggers.pipeline.routing import route_matches
from apps.triggers.receive import HTTP_KINDS
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


@dataclass(frozen=True)
class InspectedRequest:
    """One request to a trigger's URL as the inspector shows it: an accepted one is its event
    (202, or 200 for a duplicate); a refused one its WebhookRequest row (no event)."""

    received_at: datetime
    status_code: int
    outcome: str
    event: Event | None = None


# The sources of the events that came to the trigger's URL (not a schedule's, a test event or
# a replay: those are MANUAL).
URL_SOURCES = (Source.WEBHOOK, Source.APP_EVENT)


def trigger_requests(trigger: Trigger) -> list[InspectedRequest]:
    """The request inspector: the last requests to the trigger's URL, newest first, the
    accepted ones with the executions their event started."""
    events = (
        Event.objects.filter(trigger=trigger, source__in=URL_SOURCES)
        .prefetch_related(_with_executions())
        .order_by("-received_at")[:REQUESTS_SHOWN]
    )
    refused = (
        WebhookRequest.objects.filter(trigger=trigger)
        .only("received_at", "status_code", "outcome")
        .order_by("-received_at", "-id")[:REQUESTS_SHOWN]
    )
    shown = [_inspected(event) for event in events]
    shown += [InspectedRequest(r.received_at, r.status_code, r.outcome) for r in refused]
    shown.sort(key=lambda request: request.received_at, reverse=True)
    return shown[:REQUESTS_SHOWN]


def _inspected(event: Event) -> InspectedRequest:
    if event.status == EventStatus.DUPLICATE:
        outcome = f"Duplicate of event {event.duplicate_of_id}"
        return InspectedRequest(event.received_at, 200, outcome, event)
    return InspectedRequest(event.received_at, 202, "Accepted", event)


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


# --- Activity → Events and Activity → Dead letters ----------------------------------------------
# The two lists are keyset-paginated (newest first) and their tab counts capped, like Activity →
# Executions, so a page costs the same whatever the history. Filters arrive validated
# (apps/triggers/activity_forms.py): every id is one of the Space's.

ACTIVITY_PAGE_SIZE = 50
ACTIVITY_COUNT_CAP = 1000
ACTIVITY_RANGES: dict[str, timedelta | None] = {
    **RANGES,
    "all": None,
}
EVENT_TABS: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "delivered": (EventStatus.DELIVERED,),
    "duplicate": (EventStatus.DUPLICATE,),
    "filtered": (EventStatus.FILTERED,),
    "failed": (EventStatus.FAILED,),
    "dead-lettered": (EventStatus.DEAD_LETTERED,),
    "in-progress": (EventStatus.RECEIVED,),
}
EVENT_TAB_LABELS = {"all": "All", "delivered": "Delivered", "duplicate": "Duplicate",
                    "filtered": "Filtered", "failed": "Failed", "dead-lettered": "Dead-lettered",
                    "in-progress": "In progress"}  # fmt: skip
DEAD_LETTER_TABS = ("pending", "replayed", "expired", "all")
# An event id typed in the search box: a whole id, or its beginning.
EVENT_ID_PREFIX = re.compile(r"^[0-9a-f-]{1,36}\Z")


def _capped_count(rows: QuerySet) -> str:
    n = rows.order_by().values("pk")[: ACTIVITY_COUNT_CAP + 1].count()
    return f"{ACTIVITY_COUNT_CAP}+" if n > ACTIVITY_COUNT_CAP else str(n)


def _since(range_key: str) -> datetime | None:
    span = ACTIVITY_RANGES.get(range_key)
    return timezone.now() - span if span is not None else None


def _keyset(rows: QuerySet, field: str, cursor: str | None, size: int = ACTIVITY_PAGE_SIZE):
    """One page of `rows` newest first by (`field`, id), after `cursor`; and the next cursor."""
    rows = rows.order_by(f"-{field}", "-id")
    parsed = parse_cursor(cursor)
    if parsed:
        when, pk = parsed
        rows = rows.filter(Q(**{f"{field}__lt": when}) | Q(**{field: when, "id__lt": pk}))
    page = list(rows[: size + 1])
    if len(page) <= size:
        return page, None
    page = page[:size]
    last = page[-1]
    return page, f"{getattr(last, field).isoformat()}|{last.id}"


@dataclass(frozen=True)
class EventFilters:
    tab: str = "all"
    range: str = "24h"
    source: str | None = None
    trigger_id: str | None = None
    customer_id: str | None = None
    q: str = ""  # an event id, or the beginning of one (lower case)
    q_invalid: bool = False  # the search was not an id: nothing matches it
    before: str | None = None  # keyset cursor "<iso received_at>|<uuid>"

    def query(self, **changes: Any) -> str:
        """The query string of these filters with `changes` (None drops a value): what tabs
        and the pager carry, so every filter survives paging and tab switches."""
        values = replace(self, **changes)
        pairs = {"tab": values.tab, "range": values.range, "source": values.source,
                 "trigger": values.trigger_id, "customer": values.customer_id, "q": values.q,
                 "before": values.before}  # fmt: skip
        return urlencode({key: value for key, value in pairs.items() if value})

    @property
    def whole_id(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.q) if len(self.q) == 36 else None
        except ValueError:
            return None


def events_filtered(space: Space, filters: EventFilters, *, with_tab: bool = True) -> QuerySet:
    """The Space's events matching the filters. A whole event id finds that event whatever the
    other filters say (someone pasting an id wants that event); a shorter one narrows them."""
    rows = Event.objects.filter(space=space)
    if filters.q_invalid:
        return rows.none()
    if filters.whole_id is not None:
        return rows.filter(pk=filters.whole_id)
    if filters.q:
        rows = rows.filter(id__startswith=filters.q)
    if filters.source:
        rows = rows.filter(source=filters.source)
    if filters.trigger_id:
        rows = rows.filter(trigger_id=filters.trigger_id)
    if filters.customer_id:
        rows = rows.filter(customer_id=filters.customer_id)
    since = _since(filters.range)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    if with_tab and EVENT_TABS.get(filters.tab):
        rows = rows.filter(status__in=EVENT_TABS[filters.tab])
    return rows


def _deliveries_with_runs() -> Prefetch:
    """An event's deliveries in route order, each with its run's id and status only."""
    return Prefetch(
        "deliveries",
        queryset=Delivery.objects.select_related("execution")
        .only("event_id", "route_key", "workflow_name", "status", "attempts", "error",
              "created_at", "execution__id", "execution__status")
        .order_by("created_at", "id"),
    )  # fmt: skip


def event_page(space: Space, filters: EventFilters) -> tuple[list[Event], str | None]:
    """One page of Activity → Events with each event's trigger, customer and runs; the
    bodies are left in the database."""
    rows = (
        events_filtered(space, filters)
        .select_related("trigger", "customer")
        .defer("body", "payload", "headers")
        .prefetch_related(_deliveries_with_runs())
    )
    return _keyset(rows, "received_at", filters.before)


def event_tab_counts(space: Space, filters: EventFilters) -> dict[str, str]:
    base = events_filtered(space, filters, with_tab=False)
    return {
        tab: _capped_count(base.filter(status__in=statuses) if statuses else base)
        for tab, statuses in EVENT_TABS.items()
    }


def get_event_for_member(request, event_id) -> Event:
    """An event of the current Space with what its page links to, or 404."""
    return get_object_or_404(
        Event.objects.select_related("trigger", "customer", "duplicate_of", "replay_of"),
        space=request.space,
        id=event_id,
    )


@dataclass
class RouteOutcome:
    """What routing did with one route of an event. `outcome`: matched (a delivery exists),
    filtered (its filters refused the event), not-routed (the event was not routed, or the
    route matches now but did not exist or differed when it was); `checks`: the filter rows
    with what the event held at each path (apps/triggers/filters.explain)."""

    outcome: str
    workflow_name: str
    workflow_id: Any = None
    environment: str = ""
    delivery: Delivery | None = None
    checks: list[dict] = field(default_factory=list)
    route_deleted: bool = False


def _checks(route: Route, event: Event) -> list[dict]:
    if not route.filters:
        return []
    try:
        return explain(parse_filters(route.filters), event.payload, event.headers)
    except FilterError:
        return []


def event_routing(event: Event) -> list[RouteOutcome]:
    """One row per delivery of the event (its routes that matched), then one per route of its
    trigger that has none. Prefetches the deliveries onto `event` (with their runs)."""
    deliveries = list(
        Delivery.objects.filter(event=event)
        .select_related("execution", "route__workflow", "dead_letter")
        .order_by("created_at", "id")
    )
    event._prefetched_objects_cache = {"deliveries": deliveries}
    rows, seen = [], set()
    for delivery in deliveries:
        route = delivery.route
        seen.add(delivery.route_key)
        rows.append(RouteOutcome(
            outcome="matched", workflow_name=delivery.workflow_name, delivery=delivery,
            workflow_id=route.workflow_id if route else None,
            environment=route.environment if route else "",
            checks=_checks(route, event) if route else [], route_deleted=route is None,
        ))  # fmt: skip
    routes = event.trigger.routes.select_related("workflow") if event.trigger else []
    for route in routes:
        if str(route.pk) in seen:
            continue
        checks = _checks(route, event)
        passes = route_matches(route, event)
        outcome = "filtered" if event.routed_at and not passes else "not-routed"
        rows.append(RouteOutcome(
            outcome=outcome, workflow_name=route.workflow.name, workflow_id=route.workflow_id,
            environment=route.environment, checks=checks,
        ))  # fmt: skip
    return rows


def event_replays(event: Event) -> list[Event]:
    return list(event.replays.only("id", "status", "received_at").order_by("received_at"))


@dataclass(frozen=True)
class DeadLetterFilters:
    tab: str = "pending"
    range: str = "all"
    trigger_id: str | None = None
    q: str = ""  # in the error
    before: str | None = None  # keyset cursor "<iso created_at>|<uuid>"

    def query(self, **changes: Any) -> str:
        values = replace(self, **changes)
        pairs = {"tab": values.tab, "range": values.range, "trigger": values.trigger_id,
                 "q": values.q, "before": values.before}  # fmt: skip
        return urlencode({key: value for key, value in pairs.items() if value})

    @property
    def since(self) -> datetime | None:
        return _since(self.range)


def _dead_letter_tab(rows: QuerySet, tab: str) -> QuerySet:
    """A pending dead letter past its retention counts as expired already (housekeeping marks
    it within a minute; it cannot be replayed meanwhile)."""
    cutoff = expiry_cutoff()
    if tab == "pending":
        return rows.filter(status=DeadLetterStatus.PENDING, created_at__gte=cutoff)
    if tab == "replayed":
        return rows.filter(status=DeadLetterStatus.REPLAYED)
    if tab == "expired":
        return rows.filter(
            Q(status=DeadLetterStatus.EXPIRED)
            | Q(status=DeadLetterStatus.PENDING, created_at__lt=cutoff)
        )
    return rows


def dead_letters_filtered(
    space: Space, filters: DeadLetterFilters, *, with_tab: bool = True
) -> QuerySet:
    rows = DeadLetter.objects.filter(space=space)
    if filters.trigger_id:
        rows = rows.filter(delivery__trigger_id=filters.trigger_id)
    if filters.q:
        rows = rows.filter(error__icontains=filters.q)
    if filters.since is not None:
        rows = rows.filter(created_at__gte=filters.since)
    return _dead_letter_tab(rows, filters.tab) if with_tab else rows


def _with_delivery(rows: QuerySet) -> QuerySet:
    return rows.select_related(
        "delivery__trigger", "delivery__route", "delivery__execution", "delivery__event"
    ).defer("delivery__event__body", "delivery__event__payload", "delivery__event__headers")


def mark_expired(dead_letter: DeadLetter, cutoff: datetime | None = None) -> DeadLetter:
    """Set `shown_status`: the status a person should see (expired once past retention)."""
    cutoff = cutoff or expiry_cutoff()
    expired = dead_letter.status == DeadLetterStatus.PENDING and dead_letter.created_at < cutoff
    dead_letter.shown_status = DeadLetterStatus.EXPIRED if expired else dead_letter.status
    dead_letter.replayable = dead_letter.shown_status == DeadLetterStatus.PENDING
    return dead_letter


def dead_letter_page(
    space: Space, filters: DeadLetterFilters
) -> tuple[list[DeadLetter], str | None]:
    page, cursor = _keyset(_with_delivery(dead_letters_filtered(space, filters)), "created_at",
                           filters.before)  # fmt: skip
    cutoff = expiry_cutoff()
    return [mark_expired(row, cutoff) for row in page], cursor


def dead_letter_tab_counts(space: Space, filters: DeadLetterFilters) -> dict[str, str]:
    base = dead_letters_filtered(space, filters, with_tab=False)
    return {tab: _capped_count(_dead_letter_tab(base, tab)) for tab in DEAD_LETTER_TABS}


def dead_letters_replayable_count(space: Space, filters: DeadLetterFilters) -> int:
    """How many dead letters "Replay all matching" would replay now (the same selection as
    apps/triggers/pipeline/deadletters.dead_letters_replay_matching)."""
    trigger = Trigger(pk=filters.trigger_id) if filters.trigger_id else None
    return dead_letters_matching(
        space, trigger=trigger, since=filters.since, error_contains=filters.q
    ).count()


def get_dead_letter_for_member(request, dead_letter_id) -> DeadLetter:
    """A dead letter of the current Space with its delivery, event and run, or 404."""
    dead_letter = get_object_or_404(
        DeadLetter.objects.select_related(
            "delivery__trigger", "delivery__route", "delivery__execution", "delivery__event"
        ),
        space=request.space,
        id=dead_letter_id,
    )
    return mark_expired(dead_letter)
