"""Cancelling a run: at once while it is pending, by asking its worker while it runs."""

from __future__ import annotations

from django.utils import timezone

from apps.executions.models import IDLE, Execution, Status
from apps.executions.services.waiting import notify_end
from apps.spaces.audit import Actor


def execution_cancel(
    execution: Execution, *, actor: Actor, code: str = "CANCELLED", verb: str = "Cancelled"
) -> bool:
    """Cancel a run between attempts (pending, waiting, paused) at once; ask a running one to
    stop (its worker kills the sandbox). False when the run had ended already."""
    now = timezone.now()
    cancelled = Execution.objects.filter(pk=execution.pk, status__in=IDLE).update(
        status=Status.CANCELLED,
        cancel_requested=True,
        pause_requested=False,
        finished_at=now,
        error={"code": code, "message": f"{verb} by {actor.label}."},
    )
    if cancelled:
        notify_end(execution.id)
        return True
    return bool(
        Execution.objects.filter(pk=execution.pk, status=Status.RUNNING).update(
            cancel_requested=True
        )
    )
