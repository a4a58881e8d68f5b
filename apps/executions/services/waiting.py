"""Waiting for a run to end: the synchronous run of the instant tier (Test tab, Run dialog,
instant API calls) and the Redis key on which a worker announces that a run ended."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from apps.environments.models import DRAFT
from apps.executions.models import TERMINAL, Execution, Status, TriggeredBy
from apps.executions.services.dispatch import (
    QueueUnavailable,
    execution_create,
    priority_for,
    publish,
)
from apps.spaces.audit import Actor
from apps.spaces.models import Customer
from apps.workflows.models import Workflow, WorkflowVersion

logger = logging.getLogger("fastn.executions")

# How long a caller of an instant run waits beyond the workflow's timeout for the queue.
INSTANT_GRACE_S = 5.0


def execution_run_sync(
    workflow: Workflow,
    *,
    code: str | None = None,
    version: WorkflowVersion | None = None,
    input: Any,
    headers: dict[str, str],
    triggered_by: str = TriggeredBy.MANUAL,
    actor: Actor | None = None,
    customer: Customer | None = None,
    environment: str = DRAFT,
    retry: bool = True,
) -> Execution:
    """Run on the `instant` queue and wait for the end (Test tab, Run dialog, instant API).

    With the broker down the caller is refused, and the run must then never happen: its row
    goes pending → failed (SERVICE_UNAVAILABLE) in a conditional UPDATE, which no worker's
    claim and no reaper can get past. If the message did get through (the failure came while
    waiting), the row is already claimed, the run is on, and the end is read from the database.
    """
    execution = execution_create(
        workflow,
        version=version,
        code=code,
        input=input,
        headers=headers,
        triggered_by=triggered_by,
        actor=actor,
        customer=customer,
        environment=environment,
        retry=retry,
    )
    wait_s = execution.timeout_seconds + INSTANT_GRACE_S
    deadline = time.monotonic() + wait_s
    try:
        publish(execution.id, queue="instant", priority=priority_for(triggered_by))
        ended = wait_for_end(execution, timeout=wait_s)
    except QueueUnavailable as exc:
        logger.warning("Queue unavailable for instant run %s: %s", execution.id, exc)
        if refuse_pending(execution, str(exc)):
            return execution
        ended = wait_in_database(execution, deadline=deadline)
    if not ended:
        unavailable = {
            "code": "WORKER_UNAVAILABLE",
            "message": "No instant worker picked the run up in time. Is it running?",
        }
        if not end_pending(execution, status=Status.TIMEOUT, error=unavailable):
            # A worker took it at the last moment: it runs under its own deadline.
            wait_in_database(
                execution, deadline=time.monotonic() + execution.timeout_seconds + INSTANT_GRACE_S
            )
        execution.refresh_from_db()
    return execution


def execution_run_unsaved(
    draft: Workflow, *, input: Any, headers: dict[str, str], actor: Actor | None
) -> Execution:
    """Run the code and configuration of a workflow that was never saved (`draft`, built by
    `workflow_unsaved`): the Test tab of a new workflow. Recorded like a test run of unsaved
    code (manual, DRAFT, once: a person is waiting), under the draft's name and without a
    workflow, since none exists yet."""
    if not draft._state.adding:
        raise ValueError("execution_run_unsaved runs workflows that were never saved")
    return execution_run_sync(
        draft,
        code=draft.draft_code,
        version=None,
        input=input,
        headers=headers,
        triggered_by=TriggeredBy.MANUAL,
        actor=actor,
        customer=None,
        environment=DRAFT,
        retry=False,
    )


def refuse_pending(execution: Execution, reason: str) -> bool:
    """End a run whose caller is refused (SERVICE_UNAVAILABLE) so that it never runs later.
    False when a worker claimed it already (it runs; the caller must wait for it)."""
    error = {
        "code": "SERVICE_UNAVAILABLE",
        "message": "The run queue is unavailable; the run was not started and will not run. "
        f"Try again shortly. ({reason})",
    }
    if not end_pending(execution, status=Status.FAILED, error=error):
        return False
    execution.refresh_from_db()
    return True


def end_pending(execution: Execution, *, status: str, error: dict[str, Any]) -> bool:
    """pending → `status`, in conditional UPDATEs that no worker's claim and no reaper can get
    past. A run that never started ends with `error`; one waiting for a retry ran already, so
    it ends failed with its last attempt's error (not as if it had never run)."""
    now = timezone.now()
    pending = Execution.objects.filter(pk=execution.pk, status=Status.PENDING)
    if pending.filter(attempts=0).update(status=status, finished_at=now, error=error):
        return True
    return bool(pending.filter(attempts__gt=0).update(status=Status.FAILED, finished_at=now))


def wait_in_database(execution: Execution, *, deadline: float) -> bool:
    """Poll the row until it ends (when Redis cannot tell us); False at the deadline."""
    while time.monotonic() < deadline:
        status = Execution.objects.filter(pk=execution.pk).values_list("status", flat=True).first()
        if status is None:
            return False  # deleted meanwhile (its workflow or Space went)
        if status in TERMINAL:
            execution.refresh_from_db()
            return True
        time.sleep(0.1)
    return False


# A caller waiting for a run blocks on a Redis list that the worker pushes to when the run
# ends: one round trip, and no Celery result backend (its per-task pub/sub subscription cost
# more CPU than the rest of the web side of an instant request).
END_KEY = "fastn:execution-ended:{}"
END_KEY_TTL_S = 120
_redis = None


def redis_client():
    global _redis
    if _redis is None:
        # No read timeout: BLPOP blocks for as long as its own timeout says.
        _redis = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=None, socket_connect_timeout=5
        )
    return _redis


def notify_end(execution_id, final: dict | None = None) -> None:
    """Wake whoever waits on the run; `final` (the fields just written) spares it a read."""
    key = END_KEY.format(execution_id)
    message = json.dumps(final, default=str) if final else "{}"
    with redis_client().pipeline(transaction=False) as pipe:
        pipe.lpush(key, message).expire(key, END_KEY_TTL_S).execute()


def wait_for_end(execution: Execution, *, timeout: float) -> bool:
    """Block until the run ends; fill `execution` with its final fields. False on timeout;
    QueueUnavailable when Redis cannot be reached."""
    try:
        popped = redis_client().blpop([END_KEY.format(execution.id)], timeout=max(0.01, timeout))
    except redis.RedisError as exc:
        raise QueueUnavailable(str(exc) or type(exc).__name__) from None
    if popped is None:
        return False
    final = json.loads(popped[1])
    if not final:
        execution.refresh_from_db()
        return True
    for name in ("started_at", "finished_at"):
        final[name] = datetime.fromisoformat(final[name])
    for name, value in final.items():
        setattr(execution, name, value)
    return True
