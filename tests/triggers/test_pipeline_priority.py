"""Run priorities on the broker: P1 user > P2 event > P3 schedule. A run sent while a backlog
of lower-priority runs waits on the same queue starts ahead of that backlog."""

from __future__ import annotations

import pytest

from apps.executions.models import Execution, Status, TriggeredBy
from apps.executions.services import execution_create, execution_dispatch
from apps.executions.services.dispatch import priority_for
from tests.triggers.pipeline_fixtures import make_workflow, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
BACKLOG = 60
BUSY = "export default async () => { const t = Date.now(); while (Date.now() - t < 50) {} }"


def test_priorities_follow_the_reference():
    order = [TriggeredBy.API, TriggeredBy.MANUAL, TriggeredBy.TEST, TriggeredBy.WEBHOOK,
             TriggeredBy.APP_EVENT, TriggeredBy.SCHEDULER]  # fmt: skip
    priorities = [priority_for(kind) for kind in order]
    assert priorities == sorted(priorities)  # on Redis, lower goes first
    assert priority_for(TriggeredBy.API) < priority_for(TriggeredBy.WEBHOOK)
    assert priority_for(TriggeredBy.WEBHOOK) < priority_for(TriggeredBy.SCHEDULER)


def send(workflow, triggered_by: str) -> Execution:
    execution = execution_create(workflow, version=None, code=None, input={}, headers={},
                                 triggered_by=triggered_by, actor=None)  # fmt: skip
    execution_dispatch(execution)
    return execution


@pytest.mark.parametrize("urgent", [TriggeredBy.API, TriggeredBy.WEBHOOK])
def test_a_higher_priority_run_overtakes_a_backlog_of_scheduled_runs(cast, celery_worker, urgent):
    workflow = make_workflow(cast.space, code=BUSY, deploy=None)
    backlog = [send(workflow, TriggeredBy.SCHEDULER) for _ in range(BACKLOG)]
    backlog_rows = Execution.objects.filter(pk__in=[run.pk for run in backlog])
    waiting = backlog_rows.filter(status=Status.PENDING).count()
    assert waiting >= 10, "the worker drained the backlog before the test could measure"
    urgent_run = send(workflow, urgent)
    wait_until(
        lambda: Execution.objects.filter(pk=urgent_run.pk, status=Status.COMPLETED).exists(),
        timeout=60,
    )
    urgent_run.refresh_from_db()
    # Scheduled runs that were still waiting when the urgent one was sent, and started first:
    # only those the worker had already reserved (prefetch: one per thread, 4 threads).
    ahead = backlog_rows.filter(
        started_at__gt=urgent_run.queued_at, started_at__lt=urgent_run.started_at
    ).count()
    assert ahead <= 6, (ahead, waiting)
    wait_until(lambda: backlog_rows.filter(status=Status.COMPLETED).count() == BACKLOG, 120)
    behind = backlog_rows.filter(started_at__gt=urgent_run.started_at).count()
    assert behind >= waiting - 6, (behind, waiting)
