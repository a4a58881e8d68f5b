"""POST /api/v1/{workflow_slug}: run a workflow (DESIGN.md §6).

Instant workflows answer 200 with the workflow's return value while the caller waits; standard
and long ones answer 202 {"executionId", "status"} and run on their own queue.

With the queue (Redis) down: an instant call answers 503 SERVICE_UNAVAILABLE with Retry-After,
and that run never happens later; a standard or long run, whose row is committed before the
answer, is accepted (202, "dispatch": "deferred") and the reaper sends it once the queue is
back. An `Idempotency-Key` header makes retries safe (apps/api/idempotency.py)."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.api import idempotency
from apps.api.auth import authenticate
from apps.api.errors import ApiError, error_response
from apps.api.jsonbody import read_body
from apps.environments.models import DRAFT
from apps.executions.headers import workflow_headers
from apps.executions.models import Status, TriggeredBy
from apps.executions.services import (
    DatabaseUnavailable,
    execution_create,
    execution_dispatch,
    execution_run_sync,
)
from apps.workflows.models import Workflow, WorkflowVersion
from apps.workflows.selectors import resolve_version
from fastn_console.strictjson import JsonInputError, parse_json

logger = logging.getLogger("fastn.api")


def forwarded_headers(request) -> dict[str, str]:
    """ctx.headers of an API call: never the caller's credentials (apps/executions/headers)."""
    return workflow_headers(request.headers)


def read_input(request):
    """The body's "input": read under the size cap (chunked bodies too) and parsed strictly
    (fastn_console/strictjson.py: depth, number range, no NaN/Infinity, no NUL)."""
    raw = read_body(request)
    if not raw.strip():
        raise ApiError(400, 'The body must be a JSON object like {"input": {...}}.')
    try:
        body = parse_json(raw)
    except JsonInputError as exc:
        raise ApiError(400, str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(400, 'The body must be a JSON object like {"input": {...}}.')
    if "input" not in body:
        raise ApiError(400, 'The body must have an "input" field.')
    return body["input"]


# Seconds a refused caller is asked to wait (Retry-After) before trying again.
RETRY_AFTER_S = 5
# Faults of the platform, not of the workflow: 500 INTERNAL_ERROR.
PLATFORM_ERRORS = frozenset({"SANDBOX_CRASHED", "WORKER_LOST", "INTERNAL_ERROR"})
# Nothing ran and nothing will (the queue or its workers are away): 503 with Retry-After.
UNAVAILABLE_ERRORS = frozenset({"SERVICE_UNAVAILABLE", "WORKER_UNAVAILABLE"})


def error_body(execution) -> tuple[int, dict]:
    """A run that did not complete, in the reference's error format:
    - 503 SERVICE_UNAVAILABLE: the queue or its workers were unavailable; it never ran;
    - 408 TIMED_OUT: the run exceeded its timeout;
    - 500 INTERNAL_ERROR: a fault of the platform (the sandbox crashed, the worker was lost);
    - 400 DATASOURCE_CONNECTION_ERROR: a connector call failed (`step`, `datasourceDebug`);
    - 409 CANCELLED: someone cancelled it;
    - otherwise 422 WORKFLOW_ERROR: the workflow's own error (thrown, syntax, memory or output
      limit), with its message and where it was raised (`line`, `column` of the user's file).
    Every body carries `executionId`."""
    error = execution.error or {}
    error_code = error.get("code")
    body = {
        "message": error.get("message") or f"The workflow ended {execution.status}.",
        "executionId": str(execution.id),
    }
    step = failing_step(execution)
    if error_code in UNAVAILABLE_ERRORS:
        status, code = 503, "SERVICE_UNAVAILABLE"
    elif execution.status == Status.TIMEOUT:
        status, code = 408, "TIMED_OUT"
    elif error_code in PLATFORM_ERRORS or execution.status not in (
        Status.FAILED,
        Status.CANCELLED,
    ):
        status, code = 500, "INTERNAL_ERROR"
    elif step and step.get("kind") == "connector":
        status, code = 400, "DATASOURCE_CONNECTION_ERROR"
        body["datasourceDebug"] = datasource_debug(error, step)
    elif execution.status == Status.CANCELLED:
        status, code = 409, "CANCELLED"
    else:
        status, code = 422, "WORKFLOW_ERROR"
        body["line"] = error.get("line")
        body["column"] = error.get("column")
    if step:
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        body["step"] = details.get("step") or step.get("name")
    if code != "WORKFLOW_ERROR" and error.get("line"):
        body["line"] = error["line"]
    return status, {"code": code, "statusCode": status, **body}


def datasource_debug(error: dict, step: dict) -> dict:
    """The service's own answer: from the connector error's details when the run ended on it
    (`{name, statusCode, jsonObject}`), else the failing step's error."""
    details = error.get("details")
    if isinstance(details, dict) and isinstance(details.get("datasourceDebug"), dict):
        return details["datasourceDebug"]
    step_error = step.get("error") or {}
    if isinstance(step_error.get("details"), dict) and step_error["details"].get("datasourceDebug"):
        return step_error["details"]["datasourceDebug"]
    return {"name": step.get("name"), "jsonObject": step_error}


def failing_step(execution) -> dict | None:
    for step in reversed(execution.steps or []):
        if step.get("error"):
            return step
    return None


def run_target(auth, workflow_slug: str) -> tuple[Workflow, WorkflowVersion | None]:
    """The workflow and the version the stage serves (None: the draft). The common case — an
    enabled workflow deployed to the stage — came with the key (`auth.target`); the rest
    explains the 404."""
    if auth.target is not None:
        return auth.target
    workflow = Workflow.objects.filter(space=auth.space, slug=workflow_slug).first()
    if workflow is None:
        raise ApiError(404, f"No workflow {workflow_slug!r} in this Space.")
    if auth.stage == DRAFT:
        return workflow, None
    if not workflow.enabled:
        raise ApiError(404, f"The workflow {workflow_slug!r} is disabled.")
    version = resolve_version(workflow, auth.stage)
    if version is None and not workflow.versions.exists():
        raise ApiError(
            404,
            f"The workflow {workflow_slug!r} has never been published.",
            code="WORKFLOW_NOT_PUBLISHED",
        )
    if version is None:
        raise ApiError(404, f"The workflow {workflow_slug!r} is not deployed to {auth.stage!r}.")
    return workflow, version


@csrf_exempt
@require_POST
def execute(request, workflow_slug: str):
    auth = authenticate(request, workflow_slug=workflow_slug)
    key = idempotency.idempotency_key(request)
    workflow, version = run_target(auth, workflow_slug)
    input_value = read_input(request)
    if key is None:
        return run(request, auth, workflow, version, input_value)
    digest = idempotency.request_hash(
        workflow=workflow_slug,
        stage=auth.stage,
        tenant=auth.customer.external_id if auth.customer else None,
        input=input_value,
    )
    claim = idempotency.idempotency_begin(auth, key, digest)
    if not isinstance(claim, idempotency.IdempotencyKey):
        return claim  # the first request's response
    try:
        response = run(request, auth, workflow, version, input_value)
    except BaseException:
        idempotency.idempotency_release(claim)
        raise
    idempotency.idempotency_finish(claim, response)
    return response


def run(request, auth, workflow: Workflow, version: WorkflowVersion | None, input_value):
    """The run, answered; 503 when it could not be recorded (it then never runs)."""
    try:
        return start(request, auth, workflow, version, input_value)
    except DatabaseUnavailable as exc:
        logger.warning("Database unavailable, run of %s refused: %s", workflow.slug, exc)
        response = error_response(
            503,
            "The database is busy or unavailable: the run was not recorded and will not run. "
            "Try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
        response._has_been_logged = True  # logged once above, as a warning
        return response


def start(request, auth, workflow: Workflow, version: WorkflowVersion | None, input_value):
    common = dict(
        version=version,
        code=None,
        input=input_value,
        headers=forwarded_headers(request),
        triggered_by=TriggeredBy.API,
        actor=auth.actor,
        customer=auth.customer,
        environment=auth.stage,
    )
    if workflow.tier == "instant":
        execution = execution_run_sync(workflow, **common)
        if execution.status == Status.COMPLETED:
            return JsonResponse(execution.output, safe=False)
        status, body = error_body(execution)
        if status != 503:
            return JsonResponse(body, status=status)
        response = JsonResponse(body, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
        # The outage was logged once, as a warning, where it was met; Django would add an
        # ERROR line for every 5xx answer.
        response._has_been_logged = True
        return response
    execution = execution_create(workflow, **common)
    body = {"executionId": str(execution.id), "status": execution.status}
    if execution_dispatch(execution) is False:
        # The row is committed: the run is accepted and the reaper sends it once the queue is
        # back (apps/executions/services/reaper.py).
        body["dispatch"] = "deferred"
        body["message"] = (
            "The run queue is unavailable: the execution is recorded and will be dispatched "
            "automatically when the queue is back."
        )
    return JsonResponse(body, status=202)
