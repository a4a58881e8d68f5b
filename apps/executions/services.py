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
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from apps.environments.models import DRAFT
from apps.executions.host import DatabaseHost
from apps.executions.live import LiveTrace
from apps.executions.models import (
    TERMINAL,
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
    )
    rawsql.insert(execution)  # on every run's path: see fastn_console/rawsql.py
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


def publish(execution_id, *, queue: str, countdown: float = 0) -> None:
    """Send the run's message, or raise QueueUnavailable after one quick retry."""
    from apps.executions.tasks import run_execution

    try:
        run_execution.apply_async(
            args=[str(execution_id)],
            queue=queue,
            countdown=countdown or None,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
        )
    except UNAVAILABLE_ERRORS as exc:
        raise QueueUnavailable(str(exc) or type(exc).__name__) from None


def execution_dispatch(execution: Execution, *, countdown: float = 0) -> bool | None:
    """Queue the execution on its tier's queue, once the row is committed (None: on commit).
    With the broker down it answers False: the row stays pending, marked overdue, and the
    reaper sends it once the broker is back (one warning line, no traceback)."""

    def send() -> bool:
        try:
            publish(execution.id, queue=execution.tier, countdown=countdown)
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
        publish(execution.id, queue="instant")
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
    notices cancel requests, with two queries a second whatever the number of runs (one UPDATE
    of all of them, one SELECT of the cancelled ones). It ticks on a fixed 1 s cadence, so a
    lease (FASTN_EXECUTION_LEASE_SECONDS, 8 s) is at most ~1 s older than its worker's death."""

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
        tick = time.monotonic()
        while True:
            # A slow renewal does not push the next one back (no drift towards the lease).
            tick = max(tick + WATCH_INTERVAL_S, time.monotonic())
            time.sleep(max(0.0, tick - time.monotonic()))
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
    """Run the claimed attempt in a sandbox; its logs and steps stream to the live trace
    while it runs (apps/executions/live.py), its result is recorded by the caller."""
    execution = claimed.execution
    cancel = threading.Event()
    LEASES.register(str(execution.id), cancel)
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


def execution_perform(execution_id: str) -> str:
    """1. claim the pending execution (a conditional UPDATE: duplicates stop here);
    2. run one attempt in a sandbox; 3. record it; 4. finish, or schedule the next attempt:
    a new message with a countdown, on the tier's own queue (instant too: its caller keeps
    waiting on the end key, and this worker thread is free for other runs meanwhile)."""
    claimed = claim(execution_id)
    if claimed is None:
        return "skipped"
    execution = claimed.execution
    result = run_attempt(claimed)
    delay_s, final = finish_attempt(execution, result)
    if delay_s is None:
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
            notify_end_quietly(execution_id)
            return result.status
    execution_dispatch(execution, countdown=delay_s)
    return "retrying"


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


# --- Keeping runs alive and history bounded -------------------------------------------------

# A pending run this long past its due time lost its broker message (Redis lost it, or it was
# down when the run was accepted): dispatch it again. Longer than the lease, because a queue
# that is merely backed up would otherwise get a duplicate message for every waiting run at
# each reap; duplicates are harmless (claiming is conditional) but cost a claim each.
OVERDUE_GRACE_S = 15.0


def execution_reap() -> dict[str, int]:
    """Nothing lost, nothing looping:
    1. a running execution whose lease expired lost its worker: its attempt is recorded as
       lost; it goes back to pending while attempts remain, and fails otherwise — so a
       workflow that kills its worker every time ends after exactly max attempts;
    2. a pending execution long past its due time lost its broker message: dispatch it again
    (a duplicate delivery is harmless: claiming is a conditional UPDATE)."""
    now = timezone.now()
    grace = timedelta(seconds=max(settings.FASTN_EXECUTION_LEASE_SECONDS, OVERDUE_GRACE_S))
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
