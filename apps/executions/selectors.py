"""Reads for Activity → Executions. The list is keyset-paginated and its tab counts are capped,
so the page costs the same with ten thousand rows or ten million; the detail page reads a
running attempt's trace from its live stream (apps/executions/live.py)."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.executions.live import live_read
from apps.executions.models import Execution, ExecutionAttempt, Status

PAGE_SIZE = 50
COUNT_CAP = 1000
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
          "30d": timedelta(days=30)}  # fmt: skip
TABS = {
    "all": None,
    "running": (Status.RUNNING, Status.PENDING),
    # Durable runs between attempts: asleep or waiting for an event, or paused by an operator.
    "waiting": (Status.WAITING,),
    "paused": (Status.PAUSED,),
    "completed": (Status.COMPLETED,),
    "failed": (Status.FAILED,),
    "timeout": (Status.TIMEOUT,),
    "cancelled": (Status.CANCELLED,),
}
LIST_FIELDS = ("id", "workflow_id", "workflow_name", "tier", "version_number", "status",
               "duration_ms", "triggered_by", "queued_at", "started_at", "finished_at")  # fmt: skip


@dataclass(frozen=True)
class ExecutionFilters:
    """Validated filters (ExecutionFilterForm): every value is one this Space offers."""

    tab: str = "all"
    range: str = "24h"
    workflow_id: str | None = None
    customer_id: str | None = None
    environment: str | None = None  # an environment's slug, or DRAFT
    before: str | None = None  # keyset cursor "<iso queued_at>|<uuid>"

    def query(self, **changes: Any) -> str:
        """The query string of these filters with `changes` (a value of None drops it): what
        tab links and the pager carry, so every filter survives paging and tab switches."""
        values = replace(self, **changes)
        pairs = {
            "tab": values.tab,
            "range": values.range,
            "workflow": values.workflow_id,
            "customer": values.customer_id,
            "environment": values.environment,
            "before": values.before,
        }
        return urlencode({key: value for key, value in pairs.items() if value})


def filtered(space, filters: ExecutionFilters, *, with_tab: bool = True) -> QuerySet:
    rows = Execution.objects.filter(space=space)
    if filters.workflow_id:
        rows = rows.filter(workflow_id=filters.workflow_id)
    if filters.customer_id:
        rows = rows.filter(customer_id=filters.customer_id)
    if filters.environment:
        rows = rows.filter(environment=filters.environment)
    if filters.range in RANGES:
        rows = rows.filter(queued_at__gte=timezone.now() - RANGES[filters.range])
    if with_tab and TABS.get(filters.tab):
        rows = rows.filter(status__in=TABS[filters.tab])
    return rows


def parse_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The (queued_at, id) of a cursor made by `execution_page`; None for anything else (an
    edited or truncated URL), which the list treats as "no cursor"."""
    if not cursor or "|" not in cursor:
        return None
    stamp, _, pk = cursor.partition("|")
    try:
        when = parse_datetime(stamp)  # None when malformed; ValueError when out of range
        if when is None or timezone.is_naive(when):
            return None
        when = when.astimezone(UTC)  # OverflowError near year 1 or 9999
        return when, str(uuid.UUID(pk))
    except (ValueError, OverflowError):
        return None


def execution_page(space, filters: ExecutionFilters) -> tuple[list[Execution], str | None]:
    rows = filtered(space, filters).only(*LIST_FIELDS).order_by("-queued_at", "-id")
    cursor = parse_cursor(filters.before)
    if cursor:
        when, pk = cursor
        rows = rows.filter(Q(queued_at__lt=when) | Q(queued_at=when, id__lt=pk))
    page = list(rows[: PAGE_SIZE + 1])
    next_cursor = None
    if len(page) > PAGE_SIZE:
        page = page[:PAGE_SIZE]
        last = page[-1]
        next_cursor = f"{last.queued_at.isoformat()}|{last.id}"
    return page, next_cursor


def tab_counts(space, filters: ExecutionFilters) -> dict[str, str]:
    """Counts per tab, capped at COUNT_CAP ("1000+"), so the cost never grows with history."""
    base = filtered(space, filters, with_tab=False)
    counts = {}
    for tab, statuses in TABS.items():
        rows = base.filter(status__in=statuses) if statuses else base
        n = rows.order_by().values("pk")[: COUNT_CAP + 1].count()
        counts[tab] = f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)
    return counts


# --- The detail page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveCursor:
    """How far a detail page has shown a running attempt: "<status>.<attempt>.<logs>.<steps>".
    The page polls with it and gets only what is new while the same attempt still runs."""

    status: str
    attempt: int
    logs: int
    steps: int

    def __str__(self) -> str:
        return f"{self.status}.{self.attempt}.{self.logs}.{self.steps}"

    @classmethod
    def parse(cls, text: str | None) -> LiveCursor | None:
        """None for anything but a cursor this page made (an edited URL shows the page)."""
        parts = (text or "").split(".")
        if len(parts) != 4 or parts[0] not in Status.values:
            return None
        try:
            numbers = [int(part) for part in parts[1:]]
        except ValueError:
            return None
        if any(n < 0 or n > 10_000_000 for n in numbers):
            return None
        return cls(parts[0], *numbers)

    def continues(self, execution: Execution) -> bool:
        """True while the page shows the execution as it still is: the same attempt, still
        running (or still waiting to start)."""
        return (
            self.status == execution.status
            and not execution.is_terminal
            and self.attempt == execution.attempts
        )

    def advanced(self, logs: int, steps: int) -> LiveCursor:
        return replace(self, logs=self.logs + logs, steps=self.steps + steps)


@dataclass(frozen=True)
class Trace:
    """The logs and steps the detail page shows, and where they come from."""

    logs: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    attempt: int
    live: bool = False  # the running attempt's, streamed as it runs
    unavailable: bool = False  # running, but its live stream cannot be read right now

    def cursor(self, execution: Execution) -> LiveCursor:
        return LiveCursor(execution.status, execution.attempts, len(self.logs), len(self.steps))


def execution_trace(execution: Execution) -> Trace:
    """A running attempt's trace from its live stream; otherwise the one stored on the row
    (the last attempt's: a run waiting for a retry keeps the previous attempt's)."""
    if execution.status != Status.RUNNING:
        return Trace(execution.logs or [], execution.steps or [], execution.attempts)
    live = live_read(execution.id, execution.attempts)
    if live is None:
        return Trace([], [], execution.attempts, live=True, unavailable=True)
    logs, steps = live
    return Trace(logs, steps, execution.attempts, live=True)


@dataclass(frozen=True)
class Timing:
    """Durations of the detail page, in milliseconds."""

    last_ms: float | None  # the last finished attempt's run time
    total_ms: float | None  # run time summed over every attempt (the running one so far)
    elapsed_ms: float | None  # how long the running attempt has been running


def execution_timing(execution: Execution, attempts: list[ExecutionAttempt]) -> Timing:
    now = timezone.now()
    total = 0.0
    for attempt in attempts:
        if attempt.duration_ms is not None:
            total += attempt.duration_ms
        elif attempt.finished_at:  # lost with its worker: the reaper only knows when it ended
            total += (attempt.finished_at - attempt.started_at).total_seconds() * 1000
    elapsed = None
    if execution.status == Status.RUNNING and execution.started_at:
        elapsed = max(0.0, (now - execution.started_at).total_seconds() * 1000)
        total += elapsed
    return Timing(
        last_ms=execution.duration_ms,
        total_ms=total if attempts or elapsed is not None else None,
        elapsed_ms=elapsed,
    )


def workflow_recent_executions(space, workflow, *, limit: int) -> QuerySet:
    """The latest runs of one workflow, for the editor's Executions tab."""
    return (
        Execution.objects.filter(space=space, workflow=workflow)
        .only("id", "tier", "version_number", "status", "duration_ms", "triggered_by", "queued_at")
        .order_by("-queued_at", "-id")[:limit]
    )


def execution_to_replay(request, workflow) -> Execution | None:
    """The run named by the editor's `?execution=<id>` ("Open in editor" on an execution), if
    it is one of this workflow's in the current Space (registered with apps.workflows.replay
    by ExecutionsConfig.ready)."""
    execution_id = request.GET.get("execution")
    if not execution_id:
        return None
    try:
        uuid.UUID(execution_id)
    except ValueError:
        return None
    return (
        Execution.objects.select_related("version")
        .filter(space=request.space, workflow=workflow, id=execution_id)
        .first()
    )


# --- The instances API (apps/api/instances.py) ----------------------------------------------

# Each word of `Execution.instance_status`, as a filter on the row.
INSTANCE_STATUS_FILTERS = {
    "queued": Q(status=Status.PENDING),
    "running": Q(status=Status.RUNNING, pause_requested=False),
    "waitingForPause": Q(status=Status.RUNNING, pause_requested=True),
    "paused": Q(status=Status.PAUSED),
    "waiting": Q(status=Status.WAITING),
    "complete": Q(status=Status.COMPLETED),
    "errored": Q(status__in=(Status.FAILED, Status.TIMEOUT)),
    "terminated": Q(status=Status.CANCELLED),
}

# What a list item shows: never the (possibly large) input, output, logs or trace.
INSTANCE_LIST_FIELDS = ("id", "instance_id", "workflow_name", "version_number", "environment",
                        "status", "pause_requested", "triggered_by", "queued_at", "started_at",
                        "finished_at")  # fmt: skip


def instances_filtered(
    instances: QuerySet,
    *,
    statuses: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet:
    """`instances` (already scoped to a Space and workflow) in those instance statuses and
    created (queued) within [since, until], newest first. Each row carries `first_started_at`
    (the first attempt's start: `started_at` is the latest attempt's) and `last_attempt_at`
    (when the latest attempt started or ended), read with the unique (execution, number)
    index."""
    if statuses:
        match = Q()
        for word in statuses:
            match |= INSTANCE_STATUS_FILTERS[word]
        instances = instances.filter(match)
    if since is not None:
        instances = instances.filter(queued_at__gte=since)
    if until is not None:
        instances = instances.filter(queued_at__lte=until)
    attempts = ExecutionAttempt.objects.filter(execution=OuterRef("pk"))
    return (
        instances.annotate(
            first_started_at=Subquery(attempts.order_by("number").values("started_at")[:1]),
            last_attempt_at=Subquery(
                attempts.order_by("-number").values(last=Coalesce("finished_at", "started_at"))[:1]
            ),
        )
        .only(*INSTANCE_LIST_FIELDS)
        .order_by("-queued_at", "-id")
    )


def instance_by_key(instances: QuerySet, key: str) -> Execution | None:
    """The instance named `key` among `instances` (one workflow's): by the id its creator chose,
    else by its execution's UUID."""
    match = Q(instance_id=key)
    with contextlib.suppress(ValueError):
        match |= Q(pk=uuid.UUID(key))
    found = list(instances.filter(match)[:2])
    # Only a chosen id that spells another run's UUID could match twice; the chosen id wins.
    return next((row for row in found if row.instance_id == key), found[0] if found else None)
