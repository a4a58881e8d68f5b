"""Cancelling a run: at once while it is pending, by asking its worker while it runs."""

from __future__ import annotations

from django.utils import timezone

from apps.executions.models import Execution, Status
from apps.executions.services.waiting import notify_end
from apps.spaces.audit import Actor


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
