"""/api/v1/tenants/{space_id}/executions/{id}: read an execution's full trace, or cancel it."""

from __future__ import annotations

import uuid

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.api.auth import ApiContext, authenticate
from apps.api.errors import ApiError
from apps.executions.models import Execution
from apps.executions.services import execution_cancel


def execution_for_api(auth: ApiContext, execution_id: str) -> Execution:
    """Scoped to the key's Space, and to the customer when the caller names one."""
    try:
        uuid.UUID(execution_id)
    except ValueError:
        raise ApiError(404, "No such execution.") from None
    executions = Execution.objects.filter(space=auth.space, id=execution_id)
    if auth.customer is not None:
        executions = executions.filter(customer=auth.customer)
    execution = executions.select_related("customer").first()
    if execution is None:
        raise ApiError(404, "No such execution.")
    return execution


def execution_document(execution: Execution) -> dict:
    stamp = lambda value: value.isoformat() if value else None  # noqa: E731
    return {
        "executionId": str(execution.id),
        "workflow": execution.workflow_name,
        "version": execution.version_number,
        "environment": execution.environment,
        "tier": execution.tier,
        "status": execution.status,
        "triggeredBy": execution.triggered_by,
        "tenant": execution.customer.external_id if execution.customer else None,
        "input": execution.input,
        "output": execution.output,
        "error": execution.error,
        "logs": execution.logs,
        "steps": execution.steps,
        "attempts": execution.attempts,
        "queuedAt": stamp(execution.queued_at),
        "startedAt": stamp(execution.started_at),
        "finishedAt": stamp(execution.finished_at),
        "durationMs": execution.duration_ms,
    }


@require_GET
def execution_detail(request, space_id: str, execution_id: str):
    auth = authenticate(request, space_id=space_id)
    return JsonResponse(execution_document(execution_for_api(auth, execution_id)))


@csrf_exempt
@require_POST
def execution_cancel_view(request, space_id: str, execution_id: str):
    auth = authenticate(request, space_id=space_id)
    execution = execution_for_api(auth, execution_id)
    if not execution_cancel(execution, actor=auth.actor):
        raise ApiError(409, f"The execution has already ended ({execution.status}).")
    execution.refresh_from_db(fields=["status", "cancel_requested"])
    return JsonResponse({"executionId": str(execution.id), "status": execution.status})
