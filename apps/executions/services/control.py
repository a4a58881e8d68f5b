"""Controlling a durable run from the console or the API: pause, resume, terminate, restart,
and the events a `step.waitForEvent` waits for.

A control that does not apply to the run's current state raises ControlConflict naming that
state (the API answers 409). Every transition is a conditional UPDATE, like the rest of the
executions app, so a control racing a worker's claim or finish can never both apply."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.executions.models import (
    TERMINAL,
    Execution,
    ExecutionAttempt,
    ExecutionStep,
    InstanceEvent,
    Status,
    StepStatus,
)
from apps.executions.services.cancel import execution_cancel
from apps.executions.services.dispatch import execution_dispatch
from apps.spaces.audit import Actor

CONTROLS = ("pause", "resume", "terminate", "restart")


class ControlConflict(Exception):
    """The control does not apply to the run as it is now."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


def _current(execution: Execution) -> Execution:
    execution.refresh_from_db()
    return execution


def _conflict(execution: Execution, what: str) -> ControlConflict:
    status = execution.instance_status
    return ControlConflict(f"Cannot {what} an instance that is {status}.", status)


def execution_pause(execution: Execution, *, actor: Actor) -> Execution:
    """Queued or waiting: paused at once. Running: paused at its next step boundary
    (`waitingForPause` until then)."""
    rows = Execution.objects.filter(pk=execution.pk)
    if rows.filter(status__in=(Status.PENDING, Status.WAITING)).update(
        status=Status.PAUSED, pause_requested=False
    ):
        return _current(execution)
    if rows.filter(status=Status.RUNNING, cancel_requested=False).update(pause_requested=True):
        return _current(execution)
    raise _conflict(_current(execution), "pause")


def execution_resume(execution: Execution, *, actor: Actor) -> Execution:
    """Paused: queued again; the new attempt replays the stored steps, and a sleep or a wait
    not over yet goes back to waiting. Running with a pause asked for: the pause is called off."""
    rows = Execution.objects.filter(pk=execution.pk)
    if rows.filter(status=Status.PAUSED).update(status=Status.PENDING, due_at=timezone.now()):
        execution_dispatch(_current(execution))
        return execution
    if rows.filter(status=Status.RUNNING, pause_requested=True).update(pause_requested=False):
        return _current(execution)
    raise _conflict(_current(execution), "resume")


def execution_terminate(execution: Execution, *, actor: Actor) -> Execution:
    """Ended at once when no attempt runs; a running attempt is stopped (its sandbox is
    killed within a second) and no further attempt starts."""
    if not execution_cancel(execution, actor=actor, code="TERMINATED", verb="Terminated"):
        raise _conflict(_current(execution), "terminate")
    return _current(execution)


def execution_restart(execution: Execution, *, actor: Actor) -> Execution:
    """From the beginning, with the stored step results, the attempts and the events already
    taken discarded (events not taken yet are kept). A running attempt is stopped first:
    the restart happens as soon as it has."""
    if restart_now(execution.pk):
        execution_dispatch(_current(execution))
        return execution
    rows = Execution.objects.filter(pk=execution.pk, status=Status.RUNNING)
    if rows.update(restart_requested=True, cancel_requested=True, pause_requested=False):
        return _current(execution)
    # Between the two statements the attempt ended: the run is no longer running.
    if restart_now(execution.pk):
        execution_dispatch(_current(execution))
        return execution
    raise _conflict(_current(execution), "restart")


def restart_now(execution_id: Any, *, only_if_requested: bool = False) -> bool:
    """Reset a run that no attempt is running back to queued, in one transaction
    (`only_if_requested`: only one whose restart was asked while an attempt ran)."""
    with transaction.atomic():
        reset = Execution.objects.filter(pk=execution_id).exclude(status=Status.RUNNING)
        if only_if_requested:
            reset = reset.filter(restart_requested=True)
        updated = reset.update(
            status=Status.PENDING,
            attempts=0,
            # Each resumption granted one attempt beyond the retry policy's: give them back.
            max_attempts=F("max_attempts") - F("replays"),
            replays=0,
            output=None,
            error=None,
            logs=[],
            steps=[],
            started_at=None,
            finished_at=None,
            duration_ms=None,
            lease_expires_at=None,
            cancel_requested=False,
            pause_requested=False,
            restart_requested=False,
            due_at=timezone.now(),
        )
        if not updated:
            return False
        ExecutionStep.objects.filter(execution_id=execution_id).delete()
        ExecutionAttempt.objects.filter(execution_id=execution_id).delete()
        InstanceEvent.objects.filter(execution_id=execution_id).exclude(taken_by="").delete()
    return True


def execution_control(execution: Execution, control: str, *, actor: Actor) -> Execution:
    handlers = {
        "pause": execution_pause,
        "resume": execution_resume,
        "terminate": execution_terminate,
        "restart": execution_restart,
    }
    return handlers[control](execution, actor=actor)


def instance_event_send(execution: Execution, *, type: str, payload: Any) -> InstanceEvent:
    """Keep the event for the run; wake the run if a step waits for this type."""
    if execution.status in TERMINAL:
        raise _conflict(execution, "send an event to")
    event = InstanceEvent.objects.create(execution=execution, type=type, payload=payload)
    waiting = ExecutionStep.objects.filter(
        execution=execution, status=StepStatus.WAITING, event_type=type
    )
    if waiting.exists():
        wake(execution)
    return event


def wake(execution: Execution) -> bool:
    """waiting → queued now (an event came, or the due time passed) and send it."""
    if Execution.objects.filter(pk=execution.pk, status=Status.WAITING).update(
        status=Status.PENDING, due_at=timezone.now()
    ):
        execution_dispatch(_current(execution))
        return True
    return False


__all__ = [
    "CONTROLS",
    "ControlConflict",
    "execution_control",
    "execution_pause",
    "execution_restart",
    "execution_resume",
    "execution_terminate",
    "instance_event_send",
    "restart_now",
    "wake",
]
