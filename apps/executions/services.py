"""Creating, dispatching, running and finishing executions.

State lives in the database, not in the broker: every transition is a conditional UPDATE, so
a duplicate delivery or a second worker can never run a finished execution again, and the
attempt counter in the row — not Celery — decides when to stop retrying."""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from apps.executions.host import DatabaseHost
from apps.executions.models import (
    DRAFT,
    Execution,
    ExecutionAttempt,
    Status,
    TriggeredBy,
)
from apps.runtime import Limits, RunResult, run_workflow
from apps.spaces.audit import Actor
from apps.spaces.models import Customer, Space
from apps.workflows.models import Workflow, WorkflowVersion
from fastn_console import rawsql

logger = logging.getLogger("fastn.executions")

WATCH_INTERVAL_S = 1.0
# How long a caller of an instant run waits beyond the workflow's timeout for the queue.
INSTANT_GRACE_S = 5.0
WORKER_NAME = f"{socket.gethostname()}"


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
) -> Execution:
    """A pending execution of `version`, or of `code` as a draft when no version is given.
    `retry=False` runs once whatever the workflow's retry policy (a person is waiting)."""
    if version is None and code is None:
        code = workflow.draft_code
    retry = retry and workflow.retry_enabled
    max_attempts = workflow.retry_max_attempts if retry else 1
    execution = Execution(
        space_id=workflow.space_id,
        workflow=workflow,
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
    )
    rawsql.insert(execution)  # on every run's path: see fastn_console/rawsql.py
    return execution


def execution_dispatch(execution: Execution, *, countdown: float = 0):
    """Queue the execution on its tier's queue, once the row is committed."""
    from apps.executions.tasks import run_execution

    def send():
        return run_execution.apply_async(
            args=[str(execution.id)], queue=execution.tier, countdown=countdown or None
        )

    if connection.in_atomic_block:
        transaction.on_commit(send)
        return None
    return send()


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
    """Run on the `instant` queue and wait for the end (Test tab, Run dialog, instant API)."""
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
    from apps.executions.tasks import run_execution

    run_execution.apply_async(args=[str(execution.id)], queue="instant")
    if not wait_for_end(execution, timeout=execution.timeout_seconds + INSTANT_GRACE_S):
        Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(
            status=Status.TIMEOUT,
            finished_at=timezone.now(),
            error={
                "code": "WORKER_UNAVAILABLE",
                "message": "No instant worker picked the run up in time. Is it running?",
            },
        )
        execution.refresh_from_db()
    return execution


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
    """Block until the run ends; fill `execution` with its final fields. False on timeout."""
    popped = redis_client().blpop([END_KEY.format(execution.id)], timeout=max(0.01, timeout))
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


def execution_cancel(execution: Execution, *, actor: Actor) -> bool:
    """Cancel a pending run at once; ask a running one to stop (its worker kills the sandbox)."""
    now = timezone.now()
    cancelled = Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(
        status=Status.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        error={"code": "CANCELLED", "message": f"Cancelled by {actor.label}."},
    )
    if cancelled:
        notify_end(execution.id)
        return True
    return bool(
        Execution.objects.filter(pk=execution.pk, status=Status.RUNNING).update(
            cancel_requested=True
        )
    )


# --- Running (the Celery task's body) -------------------------------------------------------


class LeaseKeeper:
    """One thread per worker process renews the leases of every run in progress there, and
    notices cancel requests, with two queries a second whatever the number of runs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs: dict[str, threading.Event] = {}
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def register(self, execution_id: str, cancel: threading.Event) -> None:
        with self.lock:
            self.runs[execution_id] = cancel
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self.loop, daemon=True, name="leases")
                self.thread.start()

    def unregister(self, execution_id: str) -> None:
        with self.lock:
            self.runs.pop(execution_id, None)

    def loop(self) -> None:
        while True:
            time.sleep(WATCH_INTERVAL_S)
            with self.lock:
                runs = dict(self.runs)
            if not runs:
                continue
            try:
                running = Execution.objects.filter(pk__in=list(runs), status=Status.RUNNING)
                running.update(lease_expires_at=lease_until())
                for execution_id in running.filter(cancel_requested=True).values_list(
                    "pk", flat=True
                ):
                    runs[str(execution_id)].set()
            except Exception:
                logger.exception("Could not renew execution leases")
                connection.close()


LEASES = LeaseKeeper()


def lease_until():
    return timezone.now() + timedelta(seconds=settings.FASTN_EXECUTION_LEASE_SECONDS)


@functools.cache
def claim_sql() -> str:
    """The claim answers the row and the few things of its workflow a run needs, in one
    statement (see fastn_console/rawsql.py)."""
    e = rawsql.table(Execution)
    return (
        f"UPDATE {e} SET status = %s, attempts = attempts + 1, started_at = %s,"
        " lease_expires_at = %s"
        " WHERE id = %s AND status = %s AND NOT cancel_requested AND attempts < max_attempts"
        f" RETURNING {rawsql.columns(Execution, Execution._meta.db_table)},"
        f" (SELECT slug FROM {rawsql.table(Workflow)} WHERE id = {e}.workflow_id),"
        f" (SELECT code FROM {rawsql.table(WorkflowVersion)} WHERE id = {e}.version_id),"
        f" (SELECT external_id FROM {rawsql.table(Customer)} WHERE id = {e}.customer_id)"
    )


@dataclass
class Claimed:
    """A claimed execution (attempts already counted) and what its run needs besides."""

    execution: Execution
    workflow_slug: str | None
    code: str
    tenant: str | None


def claim(execution_id: str) -> Claimed | None:
    """pending → running, if the run may still start: a conditional UPDATE, so a duplicate
    delivery or a second worker finds nothing to claim."""
    row = rawsql.fetchone(
        claim_sql(),
        [
            Status.RUNNING.value,
            rawsql.db_value(Execution, "started_at", timezone.now()),
            rawsql.db_value(Execution, "lease_expires_at", lease_until()),
            rawsql.db_value(Execution, "id", execution_id),
            Status.PENDING.value,
        ],
    )
    if row is None:
        return None
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


def run_attempt(claimed: Claimed) -> RunResult:
    execution = claimed.execution
    cancel = threading.Event()
    LEASES.register(str(execution.id), cancel)
    try:
        with DatabaseHost(
            execution.space,
            customer=execution.customer,
            workflow_key=str(execution.workflow_id or ""),
            invocation_id=str(execution.id),
            environment=execution.environment,
        ) as host:
            return run_workflow(
                claimed.code,
                workflow_context(claimed),
                host,
                Limits(timeout_s=execution.timeout_seconds, memory_mb=settings.FASTN_MEMORY_MB),
                cancel=cancel,
            )
    finally:
        LEASES.unregister(str(execution.id))


def execution_perform(execution_id: str) -> str:
    """1. claim the pending execution (a conditional UPDATE: duplicates stop here);
    2. run one attempt in a sandbox; 3. record it; 4. finish, or schedule the next attempt."""
    while True:
        claimed = claim(execution_id)
        if claimed is None:
            return "skipped"
        execution = claimed.execution
        result = run_attempt(claimed)
        delay_s, final = finish_attempt(execution, result)
        if delay_s is None:
            notify_end(execution_id, final)
            return result.status
        if execution.tier != "instant":
            execution_dispatch(execution, countdown=delay_s)
            return "retrying"
        # Instant callers are waiting: retry in place while their timeout allows.
        deadline = execution.queued_at + timedelta(seconds=execution.timeout_seconds)
        if timezone.now() + timedelta(seconds=delay_s) >= deadline:
            Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(
                status=result.status, finished_at=timezone.now()
            )
            notify_end(execution_id)
            return result.status
        time.sleep(delay_s)
        close_old_connections()


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


# --- Keeping runs alive and history bounded -------------------------------------------------


def execution_reap() -> dict[str, int]:
    """Nothing lost, nothing looping:
    1. a running execution whose lease expired lost its worker: its attempt is recorded as
       lost; it goes back to pending while attempts remain, and fails otherwise — so a
       workflow that kills its worker every time ends after exactly max attempts;
    2. a pending execution long past its due time lost its broker message: dispatch it again
    (a duplicate delivery is harmless: claiming is a conditional UPDATE)."""
    now = timezone.now()
    grace = timedelta(seconds=settings.FASTN_EXECUTION_LEASE_SECONDS)
    counts = {"redispatched": 0, "failed": 0, "requeued": 0}
    stale = Execution.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now)
    fields = ("id", "attempts", "max_attempts", "tier", "cancel_requested", "started_at")
    for execution in stale.only(*fields):
        lost = {
            "code": "WORKER_LOST",
            "message": f"The worker running attempt {execution.attempts} stopped responding.",
        }
        ExecutionAttempt.objects.get_or_create(
            execution=execution,
            number=execution.attempts,
            defaults={"status": Status.FAILED, "started_at": execution.started_at or now,
                      "finished_at": now, "error": lost},
        )  # fmt: skip
        rows = Execution.objects.filter(pk=execution.pk, status=Status.RUNNING,
                                        lease_expires_at__lt=now)  # fmt: skip
        if execution.attempts < execution.max_attempts and not execution.cancel_requested:
            if rows.update(status=Status.PENDING, error=lost, lease_expires_at=None, due_at=now):
                execution_dispatch(execution)
                counts["redispatched"] += 1
        elif rows.update(status=Status.FAILED, error=lost, finished_at=now, lease_expires_at=None):
            counts["failed"] += 1
    overdue = Execution.objects.filter(status=Status.PENDING, due_at__lt=now - grace)
    for execution in overdue.only("id", "tier")[:1000]:
        Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(due_at=now)
        execution_dispatch(execution)
        counts["requeued"] += 1
    return counts


def execution_purge_old(*, batch_size: int = 5000) -> int:
    """Delete executions older than the retention setting, in batches."""
    cutoff = timezone.now() - timedelta(days=settings.FASTN_EXECUTION_RETENTION_DAYS)
    total = 0
    while True:
        ids = list(
            Execution.objects.filter(queued_at__lt=cutoff).values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return total
        Execution.objects.filter(pk__in=ids).delete()
        total += len(ids)
