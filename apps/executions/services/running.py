"""Running an execution: the Celery task's body. Claim the row, run one attempt in a sandbox,
record it, then finish the execution or schedule its next attempt."""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.executions.host import DatabaseHost
from apps.executions.live import LiveTrace
from apps.executions.models import Execution, ExecutionAttempt, InstanceEvent, Status
from apps.executions.services.control import restart_now, wake
from apps.executions.services.dispatch import execution_dispatch
from apps.executions.services.lease import LEASES, lease_until
from apps.executions.services.waiting import notify_end
from apps.executions.steps import DurableSteps
from apps.runtime import Limits, RunResult, run_workflow
from apps.runtime.api import SUSPENDED
from apps.spaces.models import Customer, Space
from apps.workflows.models import Workflow, WorkflowVersion
from fastn_console import rawsql

logger = logging.getLogger("fastn.executions")

WORKER_NAME = f"{socket.gethostname()}"


@functools.cache
def claim_sql(unflushed: bool) -> str:
    """The claim answers the row and the few things of its workflow a run needs, in one
    statement (see fastn_console/rawsql.py).

    `unflushed` (PostgreSQL, the claim in a transaction of its own): its commit does not wait
    for the disk. synchronous_commit is off for this statement's transaction alone, set from
    its RETURNING, so only a claim that took the row skips the wait. A claim lost in a crash
    of PostgreSQL itself, in the fraction of a second before the WAL writer or the next
    durable commit flushes it, leaves the run pending, and the reaper runs it again, as after
    a lost worker. The finish, like the accept, is flushed before anyone is told."""
    e = rawsql.table(Execution)
    lazy_commit = ", set_config('synchronous_commit', 'off', true)" if unflushed else ""
    return (
        f"UPDATE {e} SET status = %s, attempts = attempts + 1, started_at = %s,"
        " lease_expires_at = %s"
        " WHERE id = %s AND (status = %s OR (status = %s AND due_at <= %s))"
        " AND NOT cancel_requested AND attempts < max_attempts"
        f" RETURNING {rawsql.columns(Execution, Execution._meta.db_table)},"
        f" (SELECT slug FROM {rawsql.table(Workflow)} WHERE id = {e}.workflow_id),"
        f" (SELECT code FROM {rawsql.table(WorkflowVersion)} WHERE id = {e}.version_id),"
        f" (SELECT external_id FROM {rawsql.table(Customer)} WHERE id = {e}.customer_id)"
        f"{lazy_commit}"
    )


@dataclass
class Claimed:
    """A claimed execution (attempts already counted) and what its run needs besides."""

    execution: Execution
    workflow_slug: str | None
    code: str
    tenant: str | None


def claim(execution_id: str) -> Claimed | None:
    """pending (or waiting and due: a durable run's wake-up message) → running, if the run
    may still start: a conditional UPDATE, so a duplicate delivery or a second worker finds
    nothing to claim."""
    now = timezone.now()
    unflushed = connection.vendor == "postgresql" and not connection.in_atomic_block
    row = rawsql.fetchone(
        claim_sql(unflushed),
        [
            Status.RUNNING.value,
            rawsql.db_value(Execution, "started_at", now),
            rawsql.db_value(Execution, "lease_expires_at", lease_until()),
            rawsql.db_value(Execution, "id", execution_id),
            Status.PENDING.value,
            Status.WAITING.value,
            rawsql.db_value(Execution, "due_at", now),
        ],
    )
    if row is None:
        return None
    if unflushed:
        row = row[:-1]  # set_config's answer
    *fields, workflow_slug, version_code, tenant = row
    execution = rawsql.instance(Execution, fields)
    execution.space = rawsql.reference(Space, execution.space_id)
    if execution.customer_id is not None:
        execution.customer = rawsql.reference(Customer, execution.customer_id)
    # A version deleted since (with its workflow) leaves no code: the run then fails plainly.
    code = (version_code if execution.version_id else execution.draft_code) or ""
    return Claimed(execution, workflow_slug, code, tenant)


def workflow_context(claimed: Claimed) -> dict[str, Any]:
    execution = claimed.execution
    return {
        "input": execution.input,
        "headers": execution.headers,
        "execution": {"id": str(execution.id), "attempt": execution.attempts},
        "workflow": {
            "id": str(execution.workflow_id) if execution.workflow_id else None,
            "slug": claimed.workflow_slug,
            "version": execution.version_number or "draft",
        },
        "tier": execution.tier,
        "environment": execution.environment,
        "trigger": {"type": execution.triggered_by},
        "tenant": claimed.tenant,
    }


def run_attempt(claimed: Claimed, steps: DurableSteps) -> RunResult:
    """Run the claimed attempt in a sandbox; its logs and steps stream to the live trace
    while it runs (apps/executions/live.py), its result is recorded by the caller."""
    execution = claimed.execution
    cancel = threading.Event()
    LEASES.register(str(execution.id), cancel, steps.pause)
    try:
        with (
            LiveTrace(
                execution.id, execution.attempts, timeout_s=execution.timeout_seconds
            ) as live,
            DatabaseHost(
                execution.space,
                customer=execution.customer,
                workflow_key=str(execution.workflow_id or ""),
                invocation_id=str(execution.id),
                environment=execution.environment,
                execution_id=execution.id,
                deadline=time.monotonic() + execution.timeout_seconds,
                steps=steps,
            ) as host,
        ):
            return run_workflow(
                claimed.code,
                workflow_context(claimed),
                host,
                Limits(timeout_s=execution.timeout_seconds, memory_mb=settings.FASTN_MEMORY_MB),
                cancel=cancel,
                progress=live,
            )
    finally:
        LEASES.unregister(str(execution.id))


def execution_perform(execution_id: str, *, awaited: bool = True) -> str:
    """1. claim the pending execution (a conditional UPDATE: duplicates stop here);
    2. run one attempt in a sandbox; 3. record it; 4. finish, or schedule the next attempt:
    a new message with a countdown, on the tier's own queue (instant too: its caller keeps
    waiting on the end key, and this worker thread is free for other runs meanwhile).

    The end is announced on the run's end key (waiting.py) when someone may be waiting for
    it: `awaited` (the message came through the `instant` queue, where every run a person or
    an API caller waits for is sent) or an instant-tier run. A standard or long run's
    caller has its 202; announcing those would cost a Redis round trip per run and keep
    their outcome in Redis for two minutes, for no one."""
    claimed = claim(execution_id)
    if claimed is None:
        return "skipped"
    execution = claimed.execution
    awaited = awaited or execution.tier == "instant"
    pause = threading.Event()
    if execution.pause_requested:
        pause.set()
    steps = DurableSteps(
        execution.id,
        instant=execution.tier == "instant",
        pause=pause,
        first=execution.attempts == 1,  # claimed: counted already
    )
    result = run_attempt(claimed, steps)
    if result.status == SUSPENDED:
        suspended = suspend_attempt(execution, result, steps)
        if suspended is not None:
            if awaited:
                notify_end_quietly(execution_id)
            return suspended
        # Terminated or restarted meanwhile: the attempt ends like a cancelled one.
        result = replace(result, status=Status.CANCELLED, error=CANCELLED_ERROR)
    delay_s, final = finish_attempt(execution, result)
    if delay_s is None:
        # A restart stops the running attempt through a cancel, then starts over.
        cancelled = result.status == Status.CANCELLED
        if cancelled and restart_now(execution.pk, only_if_requested=True):
            execution_dispatch(execution)
            return "restarted"
        if awaited:
            notify_end_quietly(execution_id, final)
        return result.status
    if execution.tier == "instant":
        # The caller waits for the workflow's timeout from when it queued the run: a retry
        # that could not start before then ends the run with this attempt's outcome.
        deadline = execution.queued_at + timedelta(seconds=execution.timeout_seconds)
        if timezone.now() + timedelta(seconds=delay_s) >= deadline:
            Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(
                status=result.status, finished_at=timezone.now()
            )
            if awaited:
                notify_end_quietly(execution_id)
            return result.status
    execution_dispatch(execution, countdown=delay_s)
    return "retrying"


CANCELLED_ERROR = {"code": "CANCELLED", "message": "Workflow run was cancelled"}
# A run waking up this soon is also sent as a message with a countdown (more precise than the
# sweep); later ones only by the sweep (their due time is in the row either way).
COUNTDOWN_WAKE_S = 60.0


def suspend_attempt(execution: Execution, result: RunResult, steps: DurableSteps) -> str | None:
    """running → waiting (until the earliest sleep end, retry or wait timeout) or paused, with
    the attempt recorded, both or neither. The attempt does not count against the retry
    policy (max_attempts grows with it). None when the run was terminated or restarted
    meanwhile: the caller ends it as cancelled."""
    now = timezone.now()
    due = steps.wake_at or now
    fields = dict(
        output=None,
        error=None,
        logs=result.logs,
        steps=result.steps,
        duration_ms=result.duration_ms,
        lease_expires_at=None,
        due_at=due,
        max_attempts=F("max_attempts") + 1,
        replays=F("replays") + 1,
    )
    rows = Execution.objects.filter(pk=execution.pk, status=Status.RUNNING, cancel_requested=False)
    with transaction.atomic():
        status = Status.PAUSED
        # A resume between the pause request and here called the pause off.
        updated = steps.paused and rows.filter(pause_requested=True).update(
            status=Status.PAUSED, pause_requested=False, **fields
        )
        if not updated:
            status = Status.WAITING
            updated = rows.update(status=Status.WAITING, **fields)
        if not updated:
            return None
        ExecutionAttempt.objects.create(
            execution=execution,
            number=execution.attempts,
            status=status,
            started_at=execution.started_at,
            finished_at=now,
            duration_ms=result.duration_ms,
            worker=WORKER_NAME,
        )
    if status == Status.WAITING:
        arrived = InstanceEvent.objects.filter(
            execution_id=execution.pk, type__in=steps.waits_for, taken_by=""
        )
        if steps.waits_for and arrived.exists():
            wake(execution)  # an event came while this attempt was ending
        elif (due - now).total_seconds() <= COUNTDOWN_WAKE_S:
            execution_dispatch(execution, countdown=max(0.0, (due - now).total_seconds()) + 0.05)
    return status


def notify_end_quietly(execution_id, final: dict | None = None) -> None:
    """notify_end, with Redis down: the run's end is in the row already, and a waiting caller
    that cannot reach Redis reads it from there (wait_in_database)."""
    try:
        notify_end(execution_id, final)
    except redis.RedisError as exc:
        logger.warning("Could not announce the end of run %s (Redis): %s", execution_id, exc)


def finish_attempt(execution: Execution, result: RunResult) -> tuple[float | None, dict | None]:
    """Record the attempt and the execution's new state in one transaction (a worker dying in
    between must not leave a recorded attempt on a still-running execution). Returns the delay
    in seconds before a retry (None when final) and, when this call ended the execution, the
    final fields for whoever waits on it."""
    now = timezone.now()
    attempt = ExecutionAttempt(
        execution=execution,
        number=execution.attempts,
        status=result.status,
        started_at=execution.started_at,
        finished_at=now,
        duration_ms=result.duration_ms,
        error=result.error,
        worker=WORKER_NAME,
    )
    fields = dict(
        output=result.output,
        error=result.error,
        logs=result.logs,
        steps=result.steps,
        duration_ms=result.duration_ms,
    )
    retry = (
        result.status in (Status.FAILED, Status.TIMEOUT)
        and result.retryable
        and execution.attempts < execution.max_attempts
    )
    if retry:
        delays = execution.retry_delays_ms or [0]
        delay_ms = delays[min(execution.attempts - 1, len(delays) - 1)]
        due = now + timedelta(milliseconds=delay_ms)
        with transaction.atomic():
            rows = Execution.objects.filter(
                pk=execution.pk, status=Status.RUNNING, cancel_requested=False
            )
            if rows.update(status=Status.PENDING, due_at=due, lease_expires_at=None, **fields):
                attempt.save(force_insert=True)
                return delay_ms / 1000, None
    final = {"status": result.status, "finished_at": now, **fields}
    if not end_running(execution, final, attempt):
        return None, None  # someone else (the reaper) decided the end and recorded the attempt
    final["finished_at"] = now.isoformat()
    return None, {
        **final,
        "attempts": execution.attempts,
        "started_at": execution.started_at.isoformat(),
    }


@functools.cache
def _end_running_sql(names: tuple[str, ...]) -> str:
    columns = (Execution._meta.get_field(name).column for name in names)
    assignments = ", ".join(f"{rawsql.quote(column)} = %s" for column in columns)
    return (
        f"UPDATE {rawsql.table(Execution)} SET {assignments}, lease_expires_at = NULL"
        " WHERE id = %s AND status = %s"
    )


def end_running(execution: Execution, final: dict[str, Any], attempt: ExecutionAttempt) -> bool:
    """running → its final state with the run's outcome (`final`, by field name), and the
    attempt recorded, both or neither. Every run ends here, so it is hand-written (see
    fastn_console/rawsql.py): on PostgreSQL one statement, atomic by itself (one round trip
    instead of BEGIN, UPDATE, INSERT, COMMIT); elsewhere a transaction."""
    update = _end_running_sql(tuple(final))
    params = [
        *(rawsql.db_value(Execution, name, value) for name, value in final.items()),
        rawsql.db_value(Execution, "id", execution.pk),
        Status.RUNNING.value,
    ]
    if connection.vendor == "postgresql":
        with_ = (f"WITH ended AS ({update} RETURNING id)", params)
        return rawsql.insert(attempt, with_=with_, from_="ended")
    with transaction.atomic():
        return bool(rawsql.execute(update, params)) and rawsql.insert(attempt)
