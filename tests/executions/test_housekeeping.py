"""Retention purge and the reaper's bookkeeping (the worker-kill tests cover its main path)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.executions.models import Execution, ExecutionAttempt
from apps.executions.services import execution_create, execution_purge_old, execution_reap
from apps.executions.tasks import purge_old_executions
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db


def create(workflow, **fields) -> Execution:
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    Execution.objects.filter(pk=execution.pk).update(**fields)
    return Execution.objects.get(pk=execution.pk)


def test_executions_older_than_the_retention_are_purged(cast, settings):
    settings.FASTN_EXECUTION_RETENTION_DAYS = 30
    workflow = make_workflow(cast.space)
    old = create(workflow, queued_at=timezone.now() - timedelta(days=31), status="completed")
    ExecutionAttempt.objects.create(execution=old, number=1, status="completed")
    recent = create(workflow, queued_at=timezone.now() - timedelta(days=29), status="completed")
    assert execution_purge_old(batch_size=1) == 1
    assert list(Execution.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not ExecutionAttempt.objects.filter(execution_id=old.pk).exists()
    assert purge_old_executions.apply().get() == 0


def test_reaper_fails_a_lost_run_that_has_no_attempts_left(cast):
    workflow = make_workflow(cast.space, retry_enabled=False)
    lost = create(
        workflow,
        status="running",
        attempts=1,
        started_at=timezone.now() - timedelta(minutes=2),
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert execution_reap()["failed"] == 1
    lost.refresh_from_db()
    assert lost.status == "failed" and lost.error["code"] == "WORKER_LOST"
    attempt = ExecutionAttempt.objects.get(execution=lost)
    assert attempt.number == 1 and attempt.status == "failed"
    assert execution_reap() == {"redispatched": 0, "failed": 0, "requeued": 0}


def test_reaper_leaves_live_leases_and_fresh_pending_runs_alone(cast):
    workflow = make_workflow(cast.space)
    running = create(
        workflow, status="running", attempts=1, started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    pending = create(workflow)
    assert execution_reap() == {"redispatched": 0, "failed": 0, "requeued": 0}
    assert Execution.objects.get(pk=running.pk).status == "running"
    assert Execution.objects.get(pk=pending.pk).status == "pending"
