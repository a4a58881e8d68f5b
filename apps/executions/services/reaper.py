"""Keeping runs alive and history bounded: the periodic reaper and the retention purge."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.executions.models import (
    Execution,
    ExecutionAttempt,
    ExecutionStep,
    Status,
    StepStatus,
)
from apps.executions.services.control import restart_now
from apps.executions.services.dispatch import execution_dispatch, publish_many

# A pending run this long past its due time lost its broker message (Redis lost it, or it was
# down when the run was accepted): dispatch it again. Longer than the lease, because a queue
# that is merely backed up would otherwise get a duplicate message for every waiting run at
# each reap; duplicates are harmless (claiming is conditional) but cost a claim each.
OVERDUE_GRACE_S = 15.0


def execution_reap() -> dict[str, int]:
    """Nothing lost, nothing looping:
    1. a running execution whose lease expired lost its worker: its attempt is recorded as
       lost; it goes back to pending while attempts remain, and fails otherwise — so a
       workflow that kills its worker every time ends after exactly max attempts. A durable
       run lost inside a step goes back to pending whatever its attempts: the step counts the
       lost try against its own retries when the run resumes;
    2. a pending execution long past its due time lost its broker message: dispatch it again
    (a duplicate delivery is harmless: claiming is a conditional UPDATE);
    3. a waiting (durable) run whose due time came — a sleep ended, a retry or a wait's
       timeout is due — is queued: wake-ups live in the database, not in broker messages."""
    now = timezone.now()
    grace = timedelta(seconds=max(settings.FASTN_EXECUTION_LEASE_SECONDS, OVERDUE_GRACE_S))
    counts = {"redispatched": 0, "failed": 0, "requeued": 0, "woken": wake_due(now)}
    stale = expired_leases(now)
    fields = ("id", "attempts", "max_attempts", "tier", "triggered_by", "cancel_requested",
              "started_at", "restart_requested")  # fmt: skip
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
        if execution.restart_requested:
            if rows.update(status=Status.CANCELLED, lease_expires_at=None, finished_at=now):
                if restart_now(execution.pk):
                    execution_dispatch(execution)
                counts["redispatched"] += 1
            continue
        if not execution.cancel_requested and durable_resumes(execution.pk):
            resumed = rows.update(
                status=Status.PENDING,
                error=lost,
                lease_expires_at=None,
                due_at=now,
                max_attempts=F("max_attempts") + 1,
                replays=F("replays") + 1,
            )
            if resumed:
                execution_dispatch(execution)
                counts["redispatched"] += 1
            continue
        if execution.attempts < execution.max_attempts and not execution.cancel_requested:
            if rows.update(status=Status.PENDING, error=lost, lease_expires_at=None, due_at=now):
                execution_dispatch(execution)
                counts["redispatched"] += 1
        elif rows.update(status=Status.FAILED, error=lost, finished_at=now, lease_expires_at=None):
            counts["failed"] += 1
    overdue = overdue_pending(now - grace)
    for execution in overdue.only("id", "tier", "triggered_by")[:1000]:
        Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(due_at=now)
        execution_dispatch(execution)
        counts["requeued"] += 1
    return counts


# The reaper's three searches, each answered by a partial index of its own (models.py): the
# table holds every run ever kept, these match a handful.
def expired_leases(now):
    return Execution.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now)


def overdue_pending(before):
    return Execution.objects.filter(status=Status.PENDING, due_at__lt=before)


def due_waiting(now):
    return Execution.objects.filter(status=Status.WAITING, due_at__lte=now)


# A durable run lost this many times in a row outside any recorded step stops resuming: it
# then ends like any run whose worker died (a lost try inside a step counts against that
# step's own retries instead).
DURABLE_LOST_LIMIT = 3


def durable_resumes(execution_id) -> bool:
    """Whether a durable run whose worker died goes back to pending whatever its retry policy:
    it has stored steps (its replay loses nothing), and it was lost inside a recorded step or
    fewer than DURABLE_LOST_LIMIT times in a row."""
    steps = ExecutionStep.objects.filter(execution_id=execution_id)
    if steps.filter(status=StepStatus.RUNNING).exists():
        return True
    if not steps.exists():
        return False
    recent = ExecutionAttempt.objects.filter(execution_id=execution_id).order_by("-number")
    errors = recent.values_list("error", flat=True)[:DURABLE_LOST_LIMIT]
    in_a_row = 0
    for error in errors:
        if (error or {}).get("code") != "WORKER_LOST":
            break
        in_a_row += 1
    return in_a_row < DURABLE_LOST_LIMIT


WAKE_BATCH = 5000


def wake_due(now) -> int:
    """Queue the waiting runs whose due time came, in one UPDATE per batch, and send them."""
    woken = 0
    while True:
        due = due_waiting(now)
        batch = list(due.values_list("id", "tier", "triggered_by")[:WAKE_BATCH])
        if not batch:
            return woken
        ids = [row[0] for row in batch]
        # Woken by an event meanwhile: already queued and sent; a second message is harmless.
        Execution.objects.filter(pk__in=ids, status=Status.WAITING).update(status=Status.PENDING)
        publish_many(batch)
        woken += len(batch)
        if len(batch) < WAKE_BATCH:
            return woken


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
