"""Creating an execution and sending it to its tier's queue.

The row is the truth and the broker only a wake-up call: a run whose message cannot be sent
stays pending, and the reaper (reaper.py) sends it again once the broker is back."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from apps.environments.models import DRAFT
from apps.executions.models import Execution, Status, TriggeredBy
from apps.spaces.audit import Actor
from apps.spaces.models import Customer
from apps.workflows.models import Workflow, WorkflowVersion
from fastn_console import rawsql, taskmessage

logger = logging.getLogger("fastn.executions")


class DatabaseUnavailable(Exception):
    """The run could not be recorded: the database did not answer, or its write lock stayed
    taken past the busy timeout (SQLite). Nothing was written, so nothing will run."""


def execution_create(
    workflow: Workflow,
    *,
    version: WorkflowVersion | None,
    code: str | None,
    input: Any,
    headers: dict[str, str],
    triggered_by: str,
    actor: Actor | None,
    customer: Customer | None = None,
    environment: str = DRAFT,
    retry: bool = True,
    instance_id: str = "",
) -> Execution:
    """A pending execution of `version`, or of `code` as a draft when no version is given.
    `retry=False` runs once whatever the workflow's retry policy (a person is waiting).
    `instance_id`: the instances API's id chosen by the caller (unique per workflow: a
    duplicate raises IntegrityError)."""
    if version is None and code is None:
        code = workflow.draft_code
    retry = retry and workflow.retry_enabled
    max_attempts = workflow.retry_max_attempts if retry else 1
    execution = Execution(
        space_id=workflow.space_id,
        # A workflow never saved (the Test tab of a new one) has no row to point at: the run
        # is recorded under the name typed in the editor.
        workflow=None if workflow._state.adding else workflow,
        workflow_name=workflow.name,
        version=version,
        version_number=version.number if version else None,
        draft_code=code if version is None else "",
        environment=environment,
        tier=workflow.tier,
        timeout_seconds=workflow.timeout_seconds,
        customer=customer,
        triggered_by=triggered_by,
        actor_label=actor.label if actor else "",
        input=input,
        headers=headers,
        max_attempts=max_attempts,
        retry_delays_ms=workflow.retry_delays_ms() if retry else [],
        instance_id=instance_id,
    )
    try:
        rawsql.insert(execution)  # on every run's path: see fastn_console/rawsql.py
    except OperationalError as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    return execution


# Publishing retries once, quickly: with the broker down a caller hears so within about a
# second rather than after kombu's reconnection attempts, and the row decides what happens next.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
UNAVAILABLE_ERRORS = (BrokerError, redis.RedisError, OSError)
# A run whose message could not be sent is backdated this far, past any reaper grace, so the
# first reap after the broker is back sends it (instead of one grace period later).
DEFERRED_BACKDATE = timedelta(hours=1)


class QueueUnavailable(Exception):
    """The broker (Redis) could not be reached to send or to wait for a run."""


# Who waits decides who goes first (the reference's event priorities): P1 a person or an API
# caller, P2 an event (webhook, app event), P3 a schedule, P4 polling. On the Redis broker a
# queue is one list per priority step (kombu's `priority_steps`, settings.py), and a worker
# pops the lists in step order: a waiting P1 run is the next one any free worker takes, ahead
# of every queued P2-P4 run of its tier. The priority is derived from the row each time a run
# is sent, so a retry and the reaper's re-dispatch keep it.
P1_USER, P2_EVENT, P3_SCHEDULE, P4_POLLING = 0, 3, 6, 9
PRIORITIES = {
    TriggeredBy.MANUAL: P1_USER,
    TriggeredBy.API: P1_USER,
    TriggeredBy.TEST: P1_USER,
    TriggeredBy.AGENT_SERVICE: P1_USER,
    TriggeredBy.WEBHOOK: P2_EVENT,
    TriggeredBy.APP_EVENT: P2_EVENT,
    TriggeredBy.SCHEDULER: P3_SCHEDULE,
}
RUN_TASK = "executions.run"


def priority_for(triggered_by: str) -> int:
    return PRIORITIES.get(triggered_by, P4_POLLING)


def publish(execution_id, *, queue: str, countdown: float = 0, priority: int = P1_USER) -> None:
    """Send the run's message, or raise QueueUnavailable after one quick retry. Without a
    countdown on a Redis broker, one LPUSH (fastn_console/taskmessage.py says why)."""
    broker = settings.CELERY_BROKER_URL
    if not countdown and taskmessage.is_redis(broker):
        for retries_left in (1, 0):
            try:
                taskmessage.send(
                    broker, RUN_TASK, [str(execution_id)], queue=queue, priority=priority
                )
                return
            except redis.RedisError as exc:
                if not retries_left:
                    raise QueueUnavailable(str(exc) or type(exc).__name__) from None
                time.sleep(PUBLISH_RETRY_POLICY["interval_start"])

    from apps.executions.tasks import run_execution

    try:
        run_execution.apply_async(
            args=[str(execution_id)],
            queue=queue,
            countdown=countdown or None,
            priority=priority,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )
    except UNAVAILABLE_ERRORS as exc:
        raise QueueUnavailable(str(exc) or type(exc).__name__) from None


def publish_many(runs: list[tuple[Any, str, str]]) -> bool:
    """Send many runs ((id, tier, triggered_by) each) at once: the reaper's wake-ups. False
    with the broker down: the runs stay pending past their due time, and the reaper's
    overdue pass sends them once it is back."""
    broker = settings.CELERY_BROKER_URL
    try:
        if taskmessage.is_redis(broker):
            sends = [([str(id_)], tier, priority_for(by)) for id_, tier, by in runs]
            taskmessage.send_many(broker, RUN_TASK, sends)
        else:
            for id_, tier, by in runs:
                publish(id_, queue=tier, priority=priority_for(by))
    except (QueueUnavailable, *UNAVAILABLE_ERRORS) as exc:
        logger.warning("Queue unavailable, %d wake-ups deferred: %s", len(runs), exc)
        return False
    return True


def execution_dispatch(execution: Execution, *, countdown: float = 0) -> bool | None:
    """Queue the execution on its tier's queue, once the row is committed (None: on commit).
    With the broker down it answers False: the row stays pending, marked overdue, and the
    reaper sends it once the broker is back (one warning line, no traceback)."""

    def send() -> bool:
        try:
            publish(
                execution.id,
                queue=execution.tier,
                countdown=countdown,
                priority=priority_for(execution.triggered_by),
            )
        except QueueUnavailable as exc:
            logger.warning(
                "Queue unavailable, run %s deferred until the reaper finds it: %s",
                execution.id,
                exc,
            )
            due = timezone.now() + timedelta(seconds=countdown) - DEFERRED_BACKDATE
            Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(due_at=due)
            return False
        return True

    if connection.in_atomic_block:
        transaction.on_commit(send)
        return None
    return send()
