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


def error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


PATHS: dict[str, Any] = {
    "/{workflow_slug}": {
        "post": {
            "summary": "Execute a workflow",
            "description": (
                "Instant workflows answer 200 with the workflow's return value; standard and "
                "long ones answer 202 with the execution id. `stage` picks the environment "
                "(default `live`; `DRAFT` runs the unpublished draft)."
            ),
            "parameters": [
                {"name": "workflow_slug", "in": "path", "required": True,
                 "schema": {"type": "string"}},
                *AUTH_PARAMETERS,
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
                    "description": "Accepted: a standard or long run was queued.",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"executionId": {"type": "string", "format": "uuid"},
                                       "status": {"type": "string", "example": "pending"}},
                    }}},
                },
                "400": error_response("BAD_REQUEST, or DATASOURCE_CONNECTION_ERROR when a "
                                      "connector call failed (with step and datasourceDebug)"),
                "401": error_response("UNAUTHORIZED: missing, invalid or revoked API key"),
                "403": error_response("FORBIDDEN: key of another Space, or a test key on live"),
                "404": error_response("NOT_FOUND / WORKFLOW_NOT_PUBLISHED"),
                "408": error_response("TIMED_OUT: the instant run exceeded its timeout"),
                "413": error_response("PAYLOAD_TOO_LARGE"),
                "500": error_response("INTERNAL_ERROR: the workflow failed (message, step)"),
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


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fastn Console API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-fastn-api-key"}
            },
        },
        "security": [{"apiKey": []}],
        "paths": PATHS,
    }
