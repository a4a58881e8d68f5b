"""The OpenAPI document of /api/v1/. Endpoints add themselves here as they land."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "statusCode", "message"],
    "properties": {
        "code": {"type": "string", "example": "UNAUTHORIZED"},
        "statusCode": {"type": "integer", "example": 401},
        "message": {"type": "string"},
    },
}

AUTH_PARAMETERS = [
    {"name": "x-fastn-api-key", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "x-fastn-space-id", "in": "header", "required": True, "schema": {"type": "string"}},
    {
        "name": "x-fastn-space-tenantid",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
    },
    {"name": "stage", "in": "header", "required": False, "schema": {"type": "string"}},
]


WORKFLOW_ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "statusCode", "message", "executionId", "line", "column"],
    "properties": {
        "code": {"type": "string", "example": "WORKFLOW_ERROR"},
        "statusCode": {"type": "integer", "example": 422},
        "message": {"type": "string", "example": "Error: input.name is required"},
        "executionId": {"type": "string", "format": "uuid"},
        "line": {"type": ["integer", "null"], "description": "Line in the workflow's file."},
        "column": {"type": ["integer", "null"]},
        "step": {"type": "string", "description": "The fastn.* call that failed, if any."},
    },
}

IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": (
        "Makes a retry safe. The first request with a key is run and its response stored for "
        "24 hours, per Space and API key; a repeat with the same request (same workflow, "
        "stage, tenant and `input`) answers that response again (status and body; a 202 names "
        "the same executionId) with the header `Idempotent-Replayed: true`, and runs nothing. "
        "The same key with a different request: 422 IDEMPOTENCY_KEY_REUSED. A repeat while "
        "the first is still running waits for it up to 10 s, then 409 "
        "IDEMPOTENCY_KEY_IN_PROGRESS (Retry-After). A 503 answer releases the key: nothing "
        "ran, so a retry with the same key runs the request. Empty or longer than 255 "
        "characters: 400."
    ),
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}


def error_response(description: str, headers: dict | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


PATHS: dict[str, Any] = {
    "/{workflow_slug}": {
        "post": {
            "summary": "Execute a workflow",
            "description": (
                "Instant workflows answer 200 with the workflow's return value; standard and "
                "long ones answer 202 with the execution id. `stage` picks the environment "
                "(default `live`; `DRAFT` runs the unpublished draft). A workflow's own error "
                "(thrown, syntax, memory or output limit) answers 422 WORKFLOW_ERROR; 500 is "
                "kept for faults of the platform. With the run queue down, an instant call "
                "answers 503 SERVICE_UNAVAILABLE with Retry-After and never runs later; a "
                "standard or long run is accepted (202, `dispatch: deferred`) and dispatched "
                "automatically when the queue is back."
            ),
            "parameters": [
                {"name": "workflow_slug", "in": "path", "required": True,
                 "schema": {"type": "string"}},
                *AUTH_PARAMETERS,
                IDEMPOTENCY_KEY_PARAMETER,
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["input"],
                    "properties": {"input": {"description": "ctx.input of the run"}},
                }}},
            },
            "responses": {
                "200": {"description": "The instant workflow's return value (any JSON)."},
                "202": {
                    "description": (
                        "Accepted: a standard or long run was queued. With the run queue down "
                        "the run is recorded all the same (`dispatch: deferred`, with a "
                        "message) and dispatched automatically when the queue is back."
                    ),
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["executionId", "status"],
                        "properties": {"executionId": {"type": "string", "format": "uuid"},
                                       "status": {"type": "string", "example": "pending"},
                                       "dispatch": {"type": "string", "enum": ["deferred"]},
                                       "message": {"type": "string"}},
                    }}},
                },
                "400": error_response("BAD_REQUEST (also an empty or over-long Idempotency-Key),"
                                      " or DATASOURCE_CONNECTION_ERROR when a connector call "
                                      "failed (with step and datasourceDebug)"),
                "401": error_response("UNAUTHORIZED: missing, invalid or revoked API key"),
                "403": error_response("FORBIDDEN: key of another Space, or a test key on live"),
                "404": error_response("NOT_FOUND / WORKFLOW_NOT_PUBLISHED"),
                "408": error_response("TIMED_OUT: the instant run exceeded its timeout"),
                "409": error_response(
                    "IDEMPOTENCY_KEY_IN_PROGRESS: a request with this Idempotency-Key is "
                    "still running (Retry-After); CANCELLED: the run was cancelled",
                    RETRY_AFTER_HEADER,
                ),
                "413": error_response("PAYLOAD_TOO_LARGE"),
                "422": {
                    "description": (
                        "WORKFLOW_ERROR: the instant workflow failed by its own doing (a "
                        "thrown error, a syntax error, a memory or output limit), with its "
                        "message, executionId, line and column. Not retried unless the code "
                        "marks it retryable. Also IDEMPOTENCY_KEY_REUSED (the Error schema): "
                        "the key was used for a different request."
                    ),
                    "content": {"application/json": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/WorkflowError"},
                        {"$ref": "#/components/schemas/Error"},
                    ]}}},
                },
                "500": error_response("INTERNAL_ERROR: a fault of the platform (the sandbox "
                                      "crashed, the worker was lost), with executionId"),
                "503": error_response(
                    "SERVICE_UNAVAILABLE: the run queue or its instant workers are unavailable; "
                    "the run was not started and never will be: retry after Retry-After",
                    RETRY_AFTER_HEADER,
                ),
            },
        }
    }
}  # fmt: skip


EXECUTION_PARAMETERS = [
    {"name": "space_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "execution_id", "in": "path", "required": True, "schema": {"type": "string"}},
    AUTH_PARAMETERS[0],
    AUTH_PARAMETERS[2],
]
PATHS["/tenants/{space_id}/executions/{execution_id}"] = {
    "get": {
        "summary": "An execution's full trace",
        "description": "Status, input, output, error, logs, steps, attempts and timings.",
        "parameters": EXECUTION_PARAMETERS,
        "responses": {
            "200": {"description": "The execution."},
            "401": error_response("UNAUTHORIZED"),
            "403": error_response("FORBIDDEN: the key belongs to another Space"),
            "404": error_response("NOT_FOUND"),
        },
    }
}
PATHS["/tenants/{space_id}/executions/{execution_id}/cancel"] = {
    "post": {
        "summary": "Cancel a pending or running execution",
        "description": "A running V8 run is stopped; no further retries.",
        "parameters": EXECUTION_PARAMETERS,
        "responses": {
            "200": {"description": "{executionId, status}: cancelled, or running while it stops."},
            "404": error_response("NOT_FOUND"),
            "409": error_response("CONFLICT: the execution has already ended"),
        },
    }
}

PATHS["/clients/{space_id}/webhooks/{webhook_id}"] = {
    "post": {
        "summary": "Webhook receiver: send an event to a trigger",
        "description": (
            "Any body is accepted (JSON is parsed for filters and ctx.input; anything else is "
            "kept raw and routable on `$headers.` filters). The answer comes once the event is "
            "stored; routing to the trigger's workflows happens after, and "
            "`GET /tenants/{space_id}/events/{eventId}` follows it. Authentication is the "
            "trigger's: an API key of its Space in `x-fastn-key` (also `x-fastn-access-key` or "
            "`x-fastn-api-key`; a test key only for triggers whose routes all target DRAFT or "
            "test), or none for a public trigger. A trigger with a signing secret also wants a "
            "signature: `x-fastn-timestamp` + `x-fastn-signature: sha256=<hex HMAC-SHA256 of "
            "'{timestamp}.{raw body}'>`, or the Standard Webhooks headers `webhook-id`, "
            "`webhook-timestamp`, `webhook-signature`; the timestamp within 5 minutes of the "
            "server's clock. An event whose sender id (`webhook-id`, `x-fastn-event-id`, "
            "`idempotency-key`) or deduplication key was seen in the last 24 hours is a "
            "duplicate: 200 with the first event's id, and it does not run again."
        ),
        "security": [],
        "parameters": [
            {"name": "space_id", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "x-fastn-key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "An API key of the Space, for triggers with API-key authentication.",
            },
            {
                "name": "x-fastn-signature",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
            {
                "name": "x-fastn-timestamp",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
            {"name": "webhook-id", "in": "header", "required": False, "schema": {"type": "string"}},
            {
                "name": "x-fastn-event-id",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {
            "required": False,
            "content": {"*/*": {"schema": {"description": "Any body."}}},
        },
        "responses": {
            "202": {
                "description": "Stored; it will be routed.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["eventId", "status"],
                            "properties": {
                                "eventId": {"type": "string", "format": "uuid"},
                                "status": {"type": "string", "enum": ["accepted"]},
                            },
                        }
                    }
                },
            },
            "200": {
                "description": "A duplicate of an event of the last 24 hours: nothing runs.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["duplicate", "eventId"],
                            "properties": {
                                "duplicate": {"type": "boolean", "enum": [True]},
                                "eventId": {
                                    "type": "string",
                                    "format": "uuid",
                                    "description": "The first event's id.",
                                },
                                "status": {"type": "string", "enum": ["duplicate"]},
                            },
                        }
                    }
                },
            },
            "400": error_response("BAD_REQUEST: a malformed chunked body"),
            "401": error_response(
                "UNAUTHORIZED: API key missing or not valid for this "
                "Space; signature missing, wrong or outside the window"
            ),
            "403": error_response("FORBIDDEN: a test API key on a trigger with live routes"),
            "404": error_response("NOT_FOUND: no such webhook in this Space, or disabled"),
            "405": error_response("METHOD_NOT_ALLOWED: only POST"),
            "413": error_response("PAYLOAD_TOO_LARGE: over FASTN_MAX_BODY_BYTES"),
        },
    }
}
PATHS["/tenants/{space_id}/events/{event_id}"] = {
    "get": {
        "summary": "An event, its status and the executions it started",
        "description": (
            "`status`: received (stored, not routed yet, or deliveries waiting/retrying), "
            "delivered (a run started), filtered (no route matched), duplicate, failed, "
            "dead-lettered. One delivery per matching route: its status (waiting, started, "
            "retrying, failed, dead-lettered), attempts, last error, and the execution it "
            "started (follow it with GET /tenants/{space_id}/executions/{executionId})."
        ),
        "parameters": [
            {"name": "space_id", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}},
            AUTH_PARAMETERS[0],
            AUTH_PARAMETERS[2],
        ],
        "responses": {
            "200": {"description": (
                "{eventId, trigger {id, name}, source, status, receivedAt, routedAt, "
                "duplicateOf, error, deliveries [{route, workflow, status, attempts, error, "
                "nextAttemptAt, executionId, executionStatus}]}"
            )},
            "401": error_response("UNAUTHORIZED"),
            "403": error_response("FORBIDDEN: the key belongs to another Space"),
            "404": error_response("NOT_FOUND"),
        },
    }
}  # fmt: skip


# --- The instances API (apps/api/instances.py) ------------------------------------------------

INSTANCE_STATUS = {
    "type": "string",
    "enum": [
        "queued",
        "running",
        "paused",
        "waiting",
        "waitingForPause",
        "complete",
        "errored",
        "terminated",
    ],
}
TRIGGER_SOURCE = {
    "type": "string",
    "enum": ["api", "event", "cron", "unknown"],
    "description": "api (this API, POST /{workflow_slug}), event (a webhook or app event), cron "
    "(a schedule), unknown (a person in the console, an agent service).",
}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
VERSION = {
    "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["draft"]}],
    "description": "The published version the instance runs, or draft.",
}
NAMED_ERROR = {
    "type": ["object", "null"],
    "required": ["name", "message"],
    "properties": {"name": {"type": "string"}, "message": {"type": "string"}},
}
INSTANCE_SCHEMAS: dict[str, Any] = {
    "InstanceCreate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "pattern": "^[A-Za-z0-9_:.-]{1,100}$",
                "description": "Unique within the workflow; default: the execution's UUID. "
                "`instance_id` is accepted too.",
            },
            "instance_id": {"type": "string", "maxLength": 100},
            "params": {"description": "ctx.input of the run (any JSON; absent: {})."},
        },
    },
    "InstanceCreated": {
        "type": "object",
        "required": ["id", "executionId", "status", "version", "workflow", "trigger_source"],
        "properties": {
            "id": {"type": "string", "maxLength": 100},
            "executionId": {"type": "string", "format": "uuid"},
            "status": INSTANCE_STATUS,
            "version": VERSION,
            "workflow": {"type": "string", "description": "The workflow's slug."},
            "trigger_source": TRIGGER_SOURCE,
            "dispatch": {
                "type": "string",
                "enum": ["deferred"],
                "description": "The run queue was down: recorded, and sent "
                "automatically once it is back.",
            },
            "message": {"type": "string"},
        },
    },
    "InstanceSummary": {
        "type": "object",
        "required": [
            "id",
            "executionId",
            "status",
            "workflow",
            "version",
            "trigger_source",
            "created_on",
            "modified_on",
            "started_on",
            "ended_on",
        ],
        "properties": {
            "id": {"type": "string"},
            "executionId": {"type": "string", "format": "uuid"},
            "status": INSTANCE_STATUS,
            "workflow": {"type": "string"},
            "version": VERSION,
            "environment": {
                "type": "string",
                "description": "DRAFT, test, live or another environment's slug.",
            },
            "trigger_source": TRIGGER_SOURCE,
            "triggered_by": {
                "type": "string",
                "enum": [
                    "manual",
                    "webhook",
                    "scheduler",
                    "app-event",
                    "api",
                    "agent-service",
                    "test",
                ],
            },
            "created_on": {"type": "string", "format": "date-time"},
            "modified_on": {"type": "string", "format": "date-time"},
            "started_on": {**TIMESTAMP, "description": "The first attempt's start."},
            "ended_on": {**TIMESTAMP, "description": "Set once complete, errored or terminated."},
        },
    },
    "InstanceList": {
        "type": "object",
        "required": ["result", "result_info"],
        "properties": {
            "result": {"type": "array", "items": {"$ref": "#/components/schemas/InstanceSummary"}},
            "result_info": {
                "type": "object",
                "required": ["per_page", "count"],
                "description": "With ?cursor= or neither: `cursor` (null on the last page). "
                "With ?page=: page, total_count and total_pages.",
                "properties": {
                    "per_page": {"type": "integer"},
                    "count": {"type": "integer"},
                    "cursor": {"type": ["string", "null"]},
                    "page": {"type": "integer"},
                    "total_count": {"type": "integer"},
                    "total_pages": {"type": "integer"},
                },
            },
        },
    },
    "InstanceStep": {
        "type": "object",
        "required": [
            "name",
            "type",
            "status",
            "attempts",
            "config",
            "start",
            "end",
            "output",
            "error",
        ],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string", "enum": ["step", "sleep", "waitForEvent"]},
            "kind": {"type": "string", "enum": ["do", "sleep", "sleepUntil", "waitForEvent"]},
            "status": {
                "type": "string",
                "enum": ["running", "retrying", "sleeping", "waiting", "complete", "errored"],
            },
            "finished": {"type": "boolean"},
            "success": {"type": ["boolean", "null"]},
            "line": {"type": ["integer", "null"], "description": "Line in the workflow's file."},
            "config": {
                "type": ["object", "null"],
                "description": "step.do: {retries: {limit, delay (ms), backoff}, timeout (ms)}.",
            },
            "attempts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": TIMESTAMP,
                        "end": TIMESTAMP,
                        "success": {"type": ["boolean", "null"]},
                        "error": NAMED_ERROR,
                    },
                },
            },
            "start": TIMESTAMP,
            "end": TIMESTAMP,
            "output": {
                "description": "The stored result (secrets already [REDACTED]); for a "
                "wait, the event {type, payload, timestamp}."
            },
            "error": NAMED_ERROR,
            "until": {**TIMESTAMP, "description": "sleep / sleepUntil: when it wakes."},
            "event_type": {"type": "string", "description": "waitForEvent: the type awaited."},
            "timeout_at": {**TIMESTAMP, "description": "waitForEvent: when it times out."},
            "retry_at": {**TIMESTAMP, "description": "A retrying step.do: the next try."},
        },
    },
    "InstanceDetail": {
        "type": "object",
        "required": [
            "id",
            "executionId",
            "status",
            "params",
            "output",
            "error",
            "queued",
            "start",
            "end",
            "replays",
            "step_count",
            "steps",
        ],
        "properties": {
            "id": {"type": "string"},
            "executionId": {"type": "string", "format": "uuid"},
            "status": INSTANCE_STATUS,
            "workflow": {"type": "string"},
            "version": VERSION,
            "environment": {"type": "string"},
            "trigger_source": TRIGGER_SOURCE,
            "triggered_by": {"type": "string"},
            "params": {"description": "ctx.input."},
            "output": {"description": "The return value, once complete."},
            "error": {
                "type": ["object", "null"],
                "description": "When errored or terminated: {name, message}, plus our `code` "
                "(RUNTIME_ERROR, TIMEOUT, TERMINATED…) and the `line`.",
                "required": ["name", "message"],
                "properties": {
                    "name": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                    "line": {"type": ["integer", "null"]},
                },
            },
            "queued": {"type": "string", "format": "date-time"},
            "start": TIMESTAMP,
            "end": TIMESTAMP,
            "wake_at": {**TIMESTAMP, "description": "Waiting: when it wakes at the latest."},
            "attempts": {"type": "integer"},
            "replays": {"type": "integer", "description": "Times resumed from its stored steps."},
            "step_count": {"type": "integer"},
            "steps": {"type": "array", "items": {"$ref": "#/components/schemas/InstanceStep"}},
            "event_count": {
                "type": "integer",
                "description": "Events received; `events` shows the latest 100.",
            },
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["eventId", "type", "received", "taken_by"],
                    "properties": {
                        "eventId": {"type": "string"},
                        "type": {"type": "string"},
                        "received": {"type": "string", "format": "date-time"},
                        "taken_by": {
                            "type": ["string", "null"],
                            "description": "The step that took it.",
                        },
                    },
                },
            },
        },
    },
    "InstanceStatusChange": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["pause", "resume", "terminate", "restart"]}
        },
    },
    "InstanceStatusChanged": {
        "type": "object",
        "required": ["status", "timestamp"],
        "properties": {
            "status": INSTANCE_STATUS,
            "timestamp": {"type": "string", "format": "date-time"},
        },
    },
    "InstanceConflict": {
        "type": "object",
        "required": ["code", "statusCode", "message", "status"],
        "properties": {
            "code": {"type": "string", "example": "CONFLICT"},
            "statusCode": {"type": "integer", "example": 409},
            "message": {"type": "string"},
            "status": {**INSTANCE_STATUS, "description": "The instance's current status."},
        },
    },
    "InstanceEventAccepted": {
        "type": "object",
        "required": ["eventId", "type", "status"],
        "properties": {
            "eventId": {"type": "string"},
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["accepted"]},
            "instance": {"type": "string"},
        },
    },
}


def schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


WORKFLOW_PARAMETERS = [
    {"name": "space_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "workflow_slug", "in": "path", "required": True, "schema": {"type": "string"}},
    *AUTH_PARAMETERS,
]
INSTANCE_PARAMETERS = [
    *WORKFLOW_PARAMETERS,
    {
        "name": "instance_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The id chosen at creation, or the execution's UUID.",
    },
]
INSTANCE_AUTH_ERRORS = {
    "401": error_response("UNAUTHORIZED: missing, invalid or revoked API key"),
    "403": error_response(
        "FORBIDDEN: the key belongs to another Space, or a test key without "
        "`stage: test` or `stage: DRAFT`"
    ),
}
INSTANCE_NOT_FOUND = error_response(
    "NOT_FOUND: no such workflow, or no such instance of it that this key (and tenant) may see"
)
CREATE_ERRORS = {
    **INSTANCE_AUTH_ERRORS,
    "400": error_response(
        "BAD_REQUEST: invalid JSON, an unknown field, an id that is not 1-100 "
        "of [A-Za-z0-9_:.-], an empty or over-long Idempotency-Key"
    ),
    "404": error_response(
        "NOT_FOUND / WORKFLOW_NOT_PUBLISHED: no such workflow, disabled, or "
        "nothing deployed to the stage"
    ),
    "409": error_response(
        "CONFLICT: an id is already an instance of this workflow (or named "
        "twice in the batch): nothing was created; "
        "IDEMPOTENCY_KEY_IN_PROGRESS"
    ),
    "413": error_response("PAYLOAD_TOO_LARGE"),
    "422": error_response("IDEMPOTENCY_KEY_REUSED"),
    "503": error_response(
        "SERVICE_UNAVAILABLE: the database did not answer; nothing was recorded", RETRY_AFTER_HEADER
    ),
}
CREATE_DESCRIPTION = (
    "Starts the workflow's run like the execute API does for a standard run (the version the "
    "`stage` header serves, default the one deployed to live; `DRAFT` runs the draft) on the "
    "workflow's tier queue, triggered by `api`, with `params` as ctx.input, and answers at once "
    "(201, the run queued) without waiting for it, whatever the tier. With `x-fastn-space-"
    "tenantid` the instance is that customer's."
)

PATHS["/tenants/{space_id}/workflows/{workflow_slug}/instances"] = {
    "get": {
        "summary": "List a workflow's instances",
        "description": (
            "Newest first. Keyset pagination by default: pass `result_info.cursor` back as "
            "`?cursor=` for the next page (null on the last). `?page=` switches to numbered "
            "pages with total_count (costs a count). A test key lists only DRAFT and test "
            "instances; with `x-fastn-space-tenantid`, only that customer's."
        ),
        "parameters": [
            *WORKFLOW_PARAMETERS,
            {
                "name": "status",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "One or more (comma-separated) of queued, running, paused, waiting, "
                "waitingForPause, complete, errored, terminated; another: 400.",
            },
            {
                "name": "date_start",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date-time"},
                "description": "Created at or after (ISO 8601; no offset: UTC).",
            },
            {
                "name": "date_end",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date-time"},
                "description": "Created at or before.",
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
            },
            {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1},
            },
        ],
        "responses": {
            "200": {
                "description": "One page of instances.",
                "content": json_content(schema_ref("InstanceList")),
            },
            "400": error_response(
                "BAD_REQUEST: an unknown status (the body's `allowed` lists "
                "them), per_page outside 1-100, a bad cursor, page or date, "
                "or both cursor and page"
            ),
            **INSTANCE_AUTH_ERRORS,
            "404": INSTANCE_NOT_FOUND,
        },
    },
    "post": {
        "summary": "Create an instance (start a run without waiting for it)",
        "description": CREATE_DESCRIPTION,
        "parameters": [*WORKFLOW_PARAMETERS, IDEMPOTENCY_KEY_PARAMETER],
        "requestBody": {"required": False, "content": json_content(schema_ref("InstanceCreate"))},
        "responses": {
            "201": {
                "description": "Created and queued; `Location` is the instance's URL.",
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": json_content(schema_ref("InstanceCreated")),
            },
            **CREATE_ERRORS,
        },
    },
}
PATHS["/tenants/{space_id}/workflows/{workflow_slug}/instances/batch"] = {
    "post": {
        "summary": "Create up to 100 instances, all or none",
        "description": CREATE_DESCRIPTION + " Every item is checked before anything is created: "
        "one bad item (400) or taken id (409) and none is created.",
        "parameters": [*WORKFLOW_PARAMETERS, IDEMPOTENCY_KEY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": json_content(
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 100,
                    "items": schema_ref("InstanceCreate"),
                }
            ),
        },
        "responses": {
            "201": {
                "description": "The created instances, in the order given.",
                "content": json_content({"type": "array", "items": schema_ref("InstanceCreated")}),
            },
            **CREATE_ERRORS,
        },
    },
}
PATHS["/tenants/{space_id}/workflows/{workflow_slug}/instances/{instance_id}"] = {
    "get": {
        "summary": "An instance: status, params, output, error and its durable steps",
        "description": (
            "Each `step.do`, `step.sleep`, `step.sleepUntil` and `step.waitForEvent` of the run, "
            "in the order they started, with their attempts, timings and stored output (secrets "
            "read during the run are stored as [REDACTED])."
        ),
        "parameters": INSTANCE_PARAMETERS,
        "responses": {
            "200": {
                "description": "The instance.",
                "content": json_content(schema_ref("InstanceDetail")),
            },
            **INSTANCE_AUTH_ERRORS,
            "404": INSTANCE_NOT_FOUND,
        },
    },
}
PATHS["/tenants/{space_id}/workflows/{workflow_slug}/instances/{instance_id}/status"] = {
    "patch": {
        "summary": "Pause, resume, terminate or restart an instance",
        "description": (
            "pause: queued or waiting instances pause at once; a running one at its next step "
            "boundary (`waitingForPause` until then). resume: a paused instance is queued again "
            "and replays its stored steps (or calls off a pause not yet taken). terminate: ends "
            "it now; a running attempt is stopped. restart: from the beginning, its stored step "
            "results discarded (a running attempt is stopped first). Any valid API key of the "
            "Space may control its instances (keys have no roles)."
        ),
        "parameters": INSTANCE_PARAMETERS,
        "requestBody": {
            "required": True,
            "content": json_content(schema_ref("InstanceStatusChange")),
        },
        "responses": {
            "200": {
                "description": "The instance's status after the change.",
                "content": json_content(schema_ref("InstanceStatusChanged")),
            },
            "400": error_response("BAD_REQUEST: not one of pause, resume, terminate, restart"),
            **INSTANCE_AUTH_ERRORS,
            "404": INSTANCE_NOT_FOUND,
            "409": {
                "description": "CONFLICT: the control does not apply now (resume a running "
                "instance, pause an ended one); `status` is the current one.",
                "content": json_content(schema_ref("InstanceConflict")),
            },
        },
    },
}
INSTANCE_PATH = "/tenants/{space_id}/workflows/{workflow_slug}/instances/{instance_id}"
PATHS[INSTANCE_PATH + "/events/{event_type}"] = {
    "post": {
        "summary": "Send an event to an instance",
        "description": (
            "The body (any JSON, up to 1 MiB; empty: null) is the event's payload. It is stored "
            "at once and delivered to a `step.waitForEvent` of this type (waking the instance "
            "if one waits), or kept, in order, until one asks for it."
        ),
        "parameters": [
            *INSTANCE_PARAMETERS,
            {"name": "event_type", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,100}$"}},
        ],
        "requestBody": {"required": False,
                        "content": json_content({"description": "The payload: any JSON."})},
        "responses": {
            "202": {"description": "Stored.",
                    "content": json_content(schema_ref("InstanceEventAccepted"))},
            "400": error_response("BAD_REQUEST: invalid JSON, or a type that is not 1-100 of "
                                  "[A-Za-z0-9_.:-]"),
            **INSTANCE_AUTH_ERRORS,
            "404": INSTANCE_NOT_FOUND,
            "409": {"description": "CONFLICT: the instance has ended (complete, errored or "
                                   "terminated); `status` is its status.",
                    "content": json_content(schema_ref("InstanceConflict"))},
            "413": error_response("PAYLOAD_TOO_LARGE: over 1 MiB"),
        },
    },
}  # fmt: skip
PATHS["/tenants/{space_id}/workflows/{workflow_slug}/versions/{version}/graph"] = {
    "get": {
        "summary": "The step graph of a version",
        "description": (
            "The durable step graph of a published version's code (`draft`: the draft), in "
            "the shape of the reference's version graph: `graph.workflow` is a function_def "
            "whose `nodes` are step_do (with `config`), step_sleep, step_sleep_until, "
            "step_wait_for_event, loop, parallel (all, any, all_settled, race), if, switch, "
            "try, block, function_call and break, each with `starts`/`resolves` lines; "
            "`functions` holds the helpers that contain steps."
        ),
        "parameters": [
            *WORKFLOW_PARAMETERS,
            {"name": "version", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^([0-9]{1,9}|draft)$"}},
        ],
        "responses": {
            "200": {"description": "The graph.", "content": json_content({
                "type": "object",
                "required": ["workflow_id", "graph"],
                "properties": {
                    "id": {"type": ["string", "null"], "description": "The version's id."},
                    "workflow_id": {"type": "string"},
                    "class_name": {"type": "string"},
                    "created_on": {"type": ["string", "null"], "format": "date-time"},
                    "modified_on": {"type": ["string", "null"], "format": "date-time"},
                    "graph": {"type": "object", "properties": {
                        "version": {"type": "integer"},
                        "workflow": {"type": "object"},
                    }},
                },
            })},
            "400": error_response("BAD_REQUEST: version is not a number or draft"),
            **INSTANCE_AUTH_ERRORS,
            "404": error_response("NOT_FOUND: no such workflow or version in this Space"),
            "422": error_response("SYNTAX_ERROR: the code does not parse (`line`, `column`)"),
        },
    },
}  # fmt: skip


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fastn Console API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": {
                "Error": ERROR_SCHEMA,
                "WorkflowError": WORKFLOW_ERROR_SCHEMA,
                **INSTANCE_SCHEMAS,
            },
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-fastn-api-key"}
            },
        },
        "security": [{"apiKey": []}],
        "paths": PATHS,
    }
