"""What Home shows once a Space has something in it: a few recent rows and capped counts.
Every read is filtered by the Space and limited (rows by slicing, counts at COUNT_CAP), so
Home costs the same with ten executions or ten million."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from apps.executions.models import Execution, Status
from apps.executions.selectors import COUNT_CAP, LIST_FIELDS, ExecutionFilters, tab_counts
from apps.spaces.models import Space
from apps.workflows.models import Workflow
from apps.workflows.selectors import workflow_rows

RECENT_WORKFLOWS = 5
RECENT_EXECUTIONS = 8
RECENT_FAILURES = 5
# Home's window, the same as the Executions page's default range.
WINDOW = "24h"
# Runs that went wrong on their own: a cancelled run is somebody's decision, not a failure.
FAILURE_STATUSES = (Status.FAILED, Status.TIMEOUT)


@dataclass(frozen=True)
class HomeSummary:
    workflow_count: str  # "1000+" past the cap
    workflows: list[Workflow]  # most recently changed, with latest_number / live_number
    executions: list[Execution]  # latest runs, any status
    failures: list[Execution]  # failed or timed out in the window, newest first
    counts: dict[str, str]  # the Executions page's tab counts over the window

    @property
    def is_empty(self) -> bool:
        """Nothing built and nothing run yet: Home shows how to start."""
        return not self.workflows and not self.executions


def capped_count(rows) -> str:
    n = rows.order_by().values("pk")[: COUNT_CAP + 1].count()
    return f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)


def home_summary(space: Space) -> HomeSummary:
    workflows = list(workflow_rows(space)[:RECENT_WORKFLOWS])
    executions = list(
        Execution.objects.filter(space=space)
        .only(*LIST_FIELDS)
        .order_by("-queued_at", "-id")[:RECENT_EXECUTIONS]
    )
    if not workflows and not executions:
        return HomeSummary("0", [], [], [], {})
    since = timezone.now() - timedelta(days=1)
    failures = list(
        Execution.objects.filter(space=space, status__in=FAILURE_STATUSES, queued_at__gte=since)
        .only(*LIST_FIELDS, "error")
        .order_by("-queued_at", "-id")[:RECENT_FAILURES]
    )
    return HomeSummary(
        workflow_count=capped_count(Workflow.objects.filter(space=space)),
        workflows=workflows,
        executions=executions,
        failures=failures,
        counts=tab_counts(space, ExecutionFilters(range=WINDOW)),
    )
