"""The instances API: the durable runs ("instances") of one workflow, shaped after the
reference's Workflows instances API. Under /api/v1/tenants/{space_id}/workflows/{slug}/:

    GET   instances                      list: ?status=, ?date_start=, ?date_end=, ?per_page=,
                                         ?cursor= (keyset, the default) or ?page= (numbered)
    POST  instances                      create one: {"id"?, "params"?} -> 201, not waiting for it
    POST  instances/batch                create up to 100, all or none
    GET   instances/{id}                 status, params, output, error and every durable step
    PATCH instances/{id}/status          {"status": "pause" | "resume" | "terminate" | "restart"}
    POST  instances/{id}/events/{type}   an event for its `step.waitForEvent` (kept until asked)

An instance is an execution of the workflow; `{id}` is the id its creator chose, else the
execution's UUID. A run is created like the execute API's standard run (the version the
`stage` header serves, on the workflow's tier queue, triggered by "api", `params` as
ctx.input) but never waited for, whatever the tier.

Authentication, tenancy and errors are the execute API's (apps/api/auth.py, errors.py): a key
of the Space in the URL; with `x-fastn-space-tenantid`, only that customer's instances (and new
ones are that customer's); JSON errors. API keys have no role: any valid key of the Space may
create, control and send events to its instances, as it may run and cancel executions; a test
key (which reaches only the DRAFT and test stages) sees only instances of those stages. Another
Space's instance is a plain 404, even named by its UUID."""

from __future__ import annotations

import base64
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.api import idempotency
from apps.api.auth import ApiContext, authenticate
from apps.api.errors import ApiError, error_response
from apps.api.execute import RETRY_AFTER_S, forwarded_headers, run_target
from apps.api.jsonbody import read_body
from apps.environments.models import DRAFT, TEST
from apps.executions.models import (
    Execution,
    ExecutionStep,
    Status,
    StepKind,
    StepStatus,
    TriggeredBy,
)
from apps.executions.selectors import (
    INSTANCE_STATUS_FILTERS,
    instance_by_key,
    instances_filtered,
    parse_cursor,
)
from apps.executions.services import (
    CONTROLS,
    ControlConflict,
    DatabaseUnavailable,
    execution_control,
    execution_create,
    execution_dispatch,
    instance_event_send,
)
from apps.spaces.models import ApiKeyMode
from apps.workflows.models import Workflow, WorkflowVersion
from fastn_console.strictjson import JsonInputError, parse_json

INSTANCE_ID = re.compile(r"[A-Za-z0-9_\-:.]{1,100}")
EVENT_TYPE = re.compile(r"[A-Za-z0-9_.:\-]{1,100}")
MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024
MAX_BATCH = 100
MAX_EVENTS_SHOWN = 100
PER_PAGE_DEFAULT, PER_PAGE_MAX = 25, 100
MAX_PAGE = 100_000
INSTANCE_STATUSES = tuple(INSTANCE_STATUS_FILTERS)

# The reference's trigger sources; `triggered_by` keeps our own, finer word.
TRIGGER_SOURCES = {
    TriggeredBy.API: "api",
    TriggeredBy.WEBHOOK: "event",
    TriggeredBy.APP_EVENT: "event",
    TriggeredBy.SCHEDULER: "cron",
}
STEP_TYPES = {
    StepKind.DO: "step",
    StepKind.SLEEP: "sleep",
    StepKind.SLEEP_UNTIL: "sleep",
    StepKind.WAIT_FOR_EVENT: "waitForEvent",
}
# "TypeError: x is undefined" -> ("TypeError", "x is undefined"): the reference's {name, message}.
JS_ERROR = re.compile(r"(?:Uncaught )?([A-Za-z_$][\w$]*): (.*)", re.DOTALL)


# --- Scope and lookups ------------------------------------------------------------------------


def workflow_for_api(auth: ApiContext, workflow_slug: str) -> Workflow:
    rows = Workflow.objects.filter(space=auth.space, slug=workflow_slug)
    workflow = rows.only("id", "slug").first()
    if workflow is None:
        raise ApiError(404, f"No workflow {workflow_slug!r} in this Space.")
    return workflow


def instances_of(auth: ApiContext, workflow: Workflow) -> QuerySet:
    """The workflow's instances the caller may see: its Space's; only the customer's when the
    request names one; only DRAFT and test ones for a test key."""
    rows = Execution.objects.filter(space=auth.space, workflow=workflow)
    if auth.customer is not None:
        rows = rows.filter(customer=auth.customer)
    if auth.api_key.mode == ApiKeyMode.TEST:
        rows = rows.filter(environment__in=(DRAFT, TEST))
    return rows


def instance_for_api(request, space_id: str, workflow_slug: str, instance_id: str):
    """(auth, workflow, instance) for a request naming one instance; 404 for an instance the
    caller cannot see, exactly as for one that does not exist."""
    auth = authenticate(request, space_id=space_id)
    workflow = workflow_for_api(auth, workflow_slug)
    execution = None
    if INSTANCE_ID.fullmatch(instance_id):  # execution UUIDs match it too
        execution = instance_by_key(instances_of(auth, workflow), instance_id)
    if execution is None:
        raise ApiError(404, f"No instance {instance_id[:100]!r} of the workflow {workflow_slug!r}.")
    return auth, workflow, execution


# --- Documents --------------------------------------------------------------------------------


def stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def version_of(execution: Execution) -> int | str:
    return execution.version_number or "draft"


def trigger_source(execution: Execution) -> str:
    return TRIGGER_SOURCES.get(execution.triggered_by, "unknown")


def instance_identity(execution: Execution, workflow: Workflow) -> dict[str, Any]:
    """What every answer about an instance starts with: which run it is, of what, and how."""
    return {
        "id": execution.instance_key,
        "executionId": str(execution.id),
        "status": execution.instance_status,
        "workflow": workflow.slug,
        "version": version_of(execution),
        "environment": execution.environment,
        "trigger_source": trigger_source(execution),
        "triggered_by": execution.triggered_by,
    }


def instance_summary(execution: Execution, workflow: Workflow) -> dict[str, Any]:
    """A list item; `execution` comes from `instances_filtered` (with its attempt times)."""
    started = execution.first_started_at or execution.started_at
    moments = [execution.queued_at, execution.started_at, execution.finished_at]
    moments.append(execution.last_attempt_at)
    return {
        **instance_identity(execution, workflow),
        "created_on": stamp(execution.queued_at),
        "modified_on": stamp(max(moment for moment in moments if moment)),
        "started_on": stamp(started),
        "ended_on": stamp(execution.finished_at if execution.is_terminal else None),
    }


def instance_error(execution: Execution) -> dict[str, Any] | None:
    """{name, message} (the reference's), plus our `code` and the `line` of the user's file."""
    if execution.instance_status not in ("errored", "terminated"):
        return None
    error = execution.error if isinstance(execution.error, dict) else {}
    code = str(error.get("code") or execution.status.upper())
    message = str(error.get("message") or f"The instance ended {execution.instance_status}.")
    named = JS_ERROR.fullmatch(message) if code == "RUNTIME_ERROR" else None
    name, message = (named.group(1), named.group(2)) if named else (code, message)
    return {"name": name, "message": message, "code": code, "line": error.get("line")}


def step_document(step: ExecutionStep) -> dict[str, Any]:
    finished = step.status in (StepStatus.COMPLETE, StepStatus.ERRORED)
    document = {
        "name": step.name,
        "type": STEP_TYPES.get(step.kind, "step"),
        "kind": step.kind,
        "status": step.status,
        "finished": finished,
        "success": step.status == StepStatus.COMPLETE if finished else None,
        "line": step.line,
        "config": step.config,
        "attempts": step.attempts or [],
        "start": stamp(step.started_at),
        "end": stamp(step.finished_at),
        "output": step.output,
        "error": step.error,
    }
    if step.kind in (StepKind.SLEEP, StepKind.SLEEP_UNTIL):
        document["until"] = stamp(step.wake_at)
    elif step.kind == StepKind.WAIT_FOR_EVENT:
        document["event_type"] = step.event_type
        document["timeout_at"] = stamp(step.wake_at)
    elif step.status == StepStatus.RETRYING:
        document["retry_at"] = stamp(step.wake_at)
    return document


def instance_document(execution: Execution, workflow: Workflow) -> dict[str, Any]:
    steps = [step_document(step) for step in execution.step_set.all()]
    events = execution.event_set.only("id", "type", "received_at", "taken_by")
    latest = list(events.order_by("-received_at", "-id")[:MAX_EVENTS_SHOWN])[::-1]
    event_count = len(latest) if len(latest) < MAX_EVENTS_SHOWN else events.count()
    first = execution.attempt_set.order_by("number").values_list("started_at", flat=True)[:1]
    return {
        **instance_identity(execution, workflow),
        "params": execution.input,
        "output": execution.output,
        "error": instance_error(execution),
        "queued": stamp(execution.queued_at),
        "start": stamp(next(iter(first), None) or execution.started_at),
        "end": stamp(execution.finished_at if execution.is_terminal else None),
        "wake_at": stamp(execution.due_at) if execution.status == Status.WAITING else None,
        "attempts": execution.attempts,
        "replays": execution.replays,
        "step_count": len(steps),
        "steps": steps,
        # The latest MAX_EVENTS_SHOWN, oldest first, without their payloads (a wait's output
        # shows the one it took).
        "event_count": event_count,
        "events": [
            {
                "eventId": str(event.pk),
                "type": event.type,
                "received": stamp(event.received_at),
                "taken_by": event.taken_by or None,
            }
            for event in latest
        ],
    }


# --- Bodies -----------------------------------------------------------------------------------


def read_json(request, *, label: str = "The body", limit: int | None = None) -> Any:
    """The parsed body (strict JSON); `...` (Ellipsis) for an empty one."""
    raw = read_body(request)
    if limit is not None and len(raw) > limit:
        raise ApiError(413, f"{label} is {len(raw):,} bytes, over the limit of {limit:,} bytes.")
    if not raw.strip():
        return ...
    try:
        return parse_json(raw, label=label)
    except JsonInputError as exc:
        raise ApiError(400, str(exc)) from None


@dataclass(frozen=True)
class InstanceSpec:
    id: str  # "" when the caller chose none: the instance is named by its execution's UUID
    params: Any


def instance_spec(value: Any, where: str) -> InstanceSpec:
    """One {"id"?, "params"?} object (`instance_id` is accepted for `id`, as the reference
    spells it); 400 naming `where` for anything else."""
    if not isinstance(value, dict):
        raise ApiError(
            400, f'{where} must be a JSON object like {{"id": "order-1", "params": {{}}}}.'
        )
    unknown = sorted(set(value) - {"id", "instance_id", "params"})
    if unknown:
        raise ApiError(
            400, f"{where} has unknown field(s) {', '.join(unknown)}: use id and params."
        )
    if "id" in value and "instance_id" in value and value["id"] != value["instance_id"]:
        raise ApiError(400, f"{where} has both id and instance_id, with different values.")
    chosen = value.get("id", value.get("instance_id"))
    if chosen is not None and not (isinstance(chosen, str) and INSTANCE_ID.fullmatch(chosen)):
        raise ApiError(
            400,
            f"{where}: id must be a string of 1 to 100 letters, digits, '_', '-', ':' or '.'.",
        )
    return InstanceSpec(id=chosen or "", params=value.get("params", {}))


def refuse_taken_ids(workflow: Workflow, specs: list[InstanceSpec]) -> None:
    """409 when an id is named twice, or is already an instance of the workflow (whoever's:
    ids are unique per workflow), by its chosen id or its execution UUID."""
    chosen = [spec.id for spec in specs if spec.id]
    repeated = sorted(name for name, count in Counter(chosen).items() if count > 1)
    if repeated:
        raise ApiError(409, f"The batch names the id(s) {', '.join(repeated)} more than once.")
    if not chosen:
        return
    rows = Execution.objects.filter(workflow=workflow)
    taken = set(rows.filter(instance_id__in=chosen).values_list("instance_id", flat=True))
    # An id that spells a UUID (in any of the forms uuid.UUID reads) of another run.
    spelled = uuids_among(chosen)
    runs = {str(pk) for pk in rows.filter(pk__in=spelled).values_list("pk", flat=True)}
    taken |= {name for canonical, name in spelled.items() if canonical in runs}
    if taken:
        names = ", ".join(sorted(taken))
        raise ApiError(409, f"An instance with the id(s) {names} already exists for this workflow.")


def uuids_among(names: list[str]) -> dict[str, str]:
    """{canonical UUID: name} for the names that spell one."""
    found = {}
    for name in names:
        try:
            found[str(uuid.UUID(name))] = name
        except ValueError:
            continue
    return found


# --- Creating ---------------------------------------------------------------------------------


def create_instances(
    request,
    auth: ApiContext,
    workflow: Workflow,
    version: WorkflowVersion | None,
    specs: list[InstanceSpec],
) -> list[tuple[Execution, bool]]:
    """1. refuse ids already taken; 2. insert every run in one transaction (all or none: a
    concurrent create of the same id rolls the whole batch back, 409); 3. once committed, send
    each to its tier's queue. Answers (execution, deferred): deferred when the queue was down
    (the row is pending and the reaper sends it once the queue is back)."""
    refuse_taken_ids(workflow, specs)
    headers = forwarded_headers(request)
    try:
        with transaction.atomic():
            created = [
                execution_create(
                    workflow,
                    version=version,
                    code=None,
                    input=spec.params,
                    headers=headers,
                    triggered_by=TriggeredBy.API,
                    actor=auth.actor,
                    customer=auth.customer,
                    environment=auth.stage,
                    instance_id=spec.id,
                )
                for spec in specs
            ]
    except IntegrityError:
        raise ApiError(
            409, "An instance with that id was created meanwhile: nothing was created."
        ) from None
    return [(execution, execution_dispatch(execution) is False) for execution in created]


def created_answer(execution: Execution, workflow: Workflow, deferred: bool) -> dict[str, Any]:
    body = {
        "id": execution.instance_key,
        "executionId": str(execution.id),
        "status": execution.instance_status,
        "version": version_of(execution),
        "workflow": workflow.slug,
        "trigger_source": trigger_source(execution),
    }
    if deferred:
        body["dispatch"] = "deferred"
        body["message"] = (
            "The run queue is unavailable: the instance is recorded and will be dispatched "
            "automatically when the queue is back."
        )
    return body


def unavailable() -> JsonResponse:
    response = error_response(
        503,
        "The database is busy or unavailable: nothing was recorded and nothing will run. "
        "Try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
    response._has_been_logged = True  # an outage, not a bug: no ERROR line per request
    return response


def create_answer(request, auth, workflow_slug: str, *, batch: bool) -> HttpResponse:
    """The create (one or a batch) under the request's Idempotency-Key, if it has one."""
    key = idempotency.idempotency_key(request)
    workflow, version = run_target(auth, workflow_slug)
    body = read_json(request)
    single = {} if body is ... else body
    specs = batch_specs(body) if batch else [instance_spec(single, "The body")]

    def answer() -> HttpResponse:
        try:
            created = create_instances(request, auth, workflow, version, specs)
        except DatabaseUnavailable:
            return unavailable()
        answers = [created_answer(execution, workflow, deferred) for execution, deferred in created]
        if batch:
            return JsonResponse(answers, status=201, safe=False)
        response = JsonResponse(answers[0], status=201)
        response["Location"] = reverse(
            "api_instance_detail",
            kwargs={
                "space_id": str(auth.space.id),
                "workflow_slug": workflow.slug,
                "instance_id": answers[0]["id"],
            },
        )
        return response

    if key is None:
        return answer()
    digest = idempotency.request_hash(
        endpoint="instances/batch" if batch else "instances",
        workflow=workflow_slug,
        stage=auth.stage,
        tenant=auth.customer.external_id if auth.customer else None,
        body=[{"id": spec.id, "params": spec.params} for spec in specs],
    )
    claim = idempotency.idempotency_begin(auth, key, digest)
    if not isinstance(claim, idempotency.IdempotencyKey):
        return claim  # the first request's response
    try:
        response = answer()
    except BaseException:
        idempotency.idempotency_release(claim)
        raise
    idempotency.idempotency_finish(claim, response)
    return response


def batch_specs(body: Any) -> list[InstanceSpec]:
    if not isinstance(body, list) or not body:
        raise ApiError(
            400, 'The body must be a non-empty JSON array of {"id"?, "params"?} objects.'
        )
    if len(body) > MAX_BATCH:
        raise ApiError(400, f"A batch holds at most {MAX_BATCH} instances, not {len(body)}.")
    return [instance_spec(item, f"Item {index}") for index, item in enumerate(body)]


# --- Listing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    statuses: list[str]
    since: datetime | None
    until: datetime | None
    per_page: int
    cursor: tuple[datetime, str] | None
    page: int | None  # numbered pages instead of the cursor


def list_query(params) -> ListQuery:
    statuses = [word.strip() for word in params.get("status", "").split(",") if word.strip()]
    for word in statuses:
        if word not in INSTANCE_STATUS_FILTERS:
            raise ApiError(
                400,
                f"Unknown status {word[:40]!r}: use one of {', '.join(INSTANCE_STATUSES)} "
                "(several separated by commas).",
                allowed=list(INSTANCE_STATUSES),
            )
    if "cursor" in params and "page" in params:
        raise ApiError(400, "Use either cursor or page, not both.")
    cursor = None
    if "cursor" in params:
        cursor = decode_cursor(params["cursor"])
    return ListQuery(
        statuses=statuses,
        since=moment(params, "date_start"),
        until=moment(params, "date_end"),
        per_page=number(params, "per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX),
        cursor=cursor,
        page=number(params, "page", None, MAX_PAGE),
    )


def number(params, name: str, default: int | None, maximum: int) -> int | None:
    text = params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and 1 <= int(text[:12]) <= maximum):
        raise ApiError(400, f"{name} must be a whole number from 1 to {maximum}.")
    return int(text)


def moment(params, name: str) -> datetime | None:
    """An ISO 8601 date-time (no offset: UTC) or date (midnight UTC)."""
    text = params.get(name)
    if text is None:
        return None
    try:
        when = parse_datetime(text)
        if when is None and (day := parse_date(text)) is not None:
            when = datetime(day.year, day.month, day.day)
    except ValueError:  # well formed but out of range (month 13)
        when = None
    if when is None:
        raise ApiError(
            400, f"{name} must be an ISO 8601 date or date-time, like 2025-01-31T12:00:00Z."
        )
    return when.replace(tzinfo=UTC) if timezone.is_naive(when) else when


def encode_cursor(execution: Execution) -> str:
    text = f"{execution.queued_at.isoformat()}|{execution.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    cursor = parse_cursor(text)
    if cursor is None:
        raise ApiError(400, "cursor is not one this API gave: pass result_info.cursor as is.")
    return cursor


def instances_list(request, auth: ApiContext, workflow: Workflow) -> JsonResponse:
    query = list_query(request.GET)
    rows = instances_filtered(
        instances_of(auth, workflow), statuses=query.statuses, since=query.since, until=query.until
    )
    if query.page is not None:
        total = rows.count()
        offset = (query.page - 1) * query.per_page
        page = list(rows[offset : offset + query.per_page])
        info = {
            "page": query.page,
            "per_page": query.per_page,
            "count": len(page),
            "total_count": total,
            "total_pages": -(-total // query.per_page),
        }
    else:
        if query.cursor is not None:
            when, pk = query.cursor
            rows = rows.filter(Q(queued_at__lt=when) | Q(queued_at=when, id__lt=pk))
        page = list(rows[: query.per_page + 1])
        more = len(page) > query.per_page
        page = page[: query.per_page]
        info = {
            "per_page": query.per_page,
            "count": len(page),
            "cursor": encode_cursor(page[-1]) if more else None,
        }
    return JsonResponse(
        {"result": [instance_summary(row, workflow) for row in page], "result_info": info}
    )


# --- Views ------------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def instances_view(request, space_id: str, workflow_slug: str):
    if request.method == "POST":
        auth = authenticate(request, space_id=space_id, workflow_slug=workflow_slug)
        return create_answer(request, auth, workflow_slug, batch=False)
    auth = authenticate(request, space_id=space_id)
    return instances_list(request, auth, workflow_for_api(auth, workflow_slug))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def instances_batch(request, space_id: str, workflow_slug: str):
    if request.method == "GET":  # an instance may be called "batch"
        return instance_detail(request, space_id, workflow_slug, "batch")
    auth = authenticate(request, space_id=space_id, workflow_slug=workflow_slug)
    return create_answer(request, auth, workflow_slug, batch=True)


@require_GET
def instance_detail(request, space_id: str, workflow_slug: str, instance_id: str):
    _auth, workflow, execution = instance_for_api(request, space_id, workflow_slug, instance_id)
    return JsonResponse(instance_document(execution, workflow))


def conflict(exc: ControlConflict) -> JsonResponse:
    """409 with the instance's current status."""
    body = {"code": "CONFLICT", "statusCode": 409, "message": str(exc), "status": exc.status}
    return JsonResponse(body, status=409)


@csrf_exempt
@require_http_methods(["PATCH"])
def instance_status(request, space_id: str, workflow_slug: str, instance_id: str):
    auth, _workflow, execution = instance_for_api(request, space_id, workflow_slug, instance_id)
    body = read_json(request)
    control = body.get("status") if isinstance(body, dict) else None
    if not isinstance(control, str) or control not in CONTROLS:
        raise ApiError(
            400,
            f'The body must be {{"status": …}} with one of {", ".join(CONTROLS)}.',
            allowed=list(CONTROLS),
        )
    try:
        execution = execution_control(execution, control, actor=auth.actor)
    except ControlConflict as exc:
        return conflict(exc)
    return JsonResponse(
        {"status": execution.instance_status, "timestamp": timezone.now().isoformat()}
    )


@csrf_exempt
@require_POST
def instance_event(request, space_id: str, workflow_slug: str, instance_id: str, event_type: str):
    _auth, _workflow, execution = instance_for_api(request, space_id, workflow_slug, instance_id)
    if not EVENT_TYPE.fullmatch(event_type):
        raise ApiError(
            400, "The event type must be 1 to 100 letters, digits, '_', '.', ':' or '-'."
        )
    payload = read_json(request, label="The event payload", limit=MAX_EVENT_PAYLOAD_BYTES)
    try:
        event = instance_event_send(
            execution, type=event_type, payload=None if payload is ... else payload
        )
    except ControlConflict as exc:
        return conflict(exc)
    return JsonResponse(
        {
            "eventId": str(event.pk),
            "type": event.type,
            "status": "accepted",
            "instance": execution.instance_key,
        },
        status=202,
    )
