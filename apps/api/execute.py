"""POST /api/v1/{workflow_slug}: run a workflow (DESIGN.md §6).

Instant workflows answer 200 with the workflow's return value while the caller waits; standard
and long ones answer 202 {"executionId", "status"} and run on their own queue."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.api.auth import DRAFT, authenticate
from apps.api.errors import ApiError
from apps.executions.models import Status, TriggeredBy
from apps.executions.services import execution_create, execution_dispatch, execution_run_sync
from apps.workflows.models import Workflow, WorkflowVersion
from apps.workflows.selectors import resolve_version

# Never forwarded to the workflow: credentials of the caller.
STRIPPED_HEADERS = {
    "authorization",
    "cookie",
    "x-fastn-api-key",
    "x-fastn-access-key",
    "proxy-authorization",
}


def forwarded_headers(request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items() if k.lower() not in STRIPPED_HEADERS}


def read_input(request):
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise ApiError(413, f"The body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(
            413, f"The body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        ) from None
    if not raw.strip():
        raise ApiError(400, 'The body must be a JSON object like {"input": {...}}.')
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise ApiError(400, f"The body is not valid JSON{where}.") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'The body must be a JSON object like {"input": {...}}.')
    if "input" not in body:
        raise ApiError(400, 'The body must have an "input" field.')
    return body["input"]


def error_body(execution) -> tuple[int, dict]:
    """A failed run in the reference's error format: 408 TIMED_OUT; 400
    DATASOURCE_CONNECTION_ERROR when a connector call failed (with `step` and
    `datasourceDebug`); otherwise 500 INTERNAL_ERROR with the workflow's own message."""
    error = execution.error or {}
    body = {
        "message": error.get("message") or f"The workflow ended {execution.status}.",
        "executionId": str(execution.id),
    }
    step = failing_step(execution)
    if execution.status == Status.TIMEOUT:
        status, code = 408, "TIMED_OUT"
    elif step and step.get("kind") == "connector":
        status, code = 400, "DATASOURCE_CONNECTION_ERROR"
        body["datasourceDebug"] = {"name": step.get("name"), "jsonObject": step.get("error")}
    else:
        status, code = 500, "INTERNAL_ERROR"
    if step:
        body["step"] = step.get("name")
    if error.get("line"):
        body["line"] = error["line"]
    return status, {"code": code, "statusCode": status, **body}


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
    workflow, version = run_target(auth, workflow_slug)
    input_value = read_input(request)
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
        return JsonResponse(body, status=status)
    execution = execution_create(workflow, **common)
    execution_dispatch(execution)
    return JsonResponse({"executionId": str(execution.id), "status": execution.status}, status=202)
