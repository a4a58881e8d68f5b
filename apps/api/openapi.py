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


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fastn Console API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, "WorkflowError": WORKFLOW_ERROR_SCHEMA},
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-fastn-api-key"}
            },
        },
        "security": [{"apiKey": []}],
        "paths": PATHS,
    }
