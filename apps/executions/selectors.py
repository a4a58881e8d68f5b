"""Reads for Activity → Executions. The list is keyset-paginated and its tab counts are capped,
so the page costs the same with ten thousand rows or ten million."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.executions.models import Execution, Status

PAGE_SIZE = 50
COUNT_CAP = 1000
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
          "30d": timedelta(days=30)}  # fmt: skip
TABS = {
    "all": None,
    "running": (Status.RUNNING, Status.PENDING),
    "completed": (Status.COMPLETED,),
    "failed": (Status.FAILED, Status.CANCELLED),
    "timeout": (Status.TIMEOUT,),
}
LIST_FIELDS = ("id", "workflow_id", "workflow_name", "tier", "version_number", "status",
               "duration_ms", "triggered_by", "queued_at", "started_at", "finished_at")  # fmt: skip


@dataclass(frozen=True)
class ExecutionFilters:
    tab: str = "all"
    range: str = "24h"
    workflow_id: str | None = None
    before: str | None = None  # keyset cursor "<iso queued_at>|<uuid>"


def filtered(space, filters: ExecutionFilters, *, with_tab: bool = True) -> QuerySet:
    rows = Execution.objects.filter(space=space)
    if filters.workflow_id:
        rows = rows.filter(workflow_id=filters.workflow_id)
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
