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

PATHS: dict[str, Any] = {}


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
