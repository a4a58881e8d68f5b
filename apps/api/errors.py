"""The JSON error format of the public API: {"code", "statusCode", "message"}."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "TIMED_OUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

DEFAULT_MESSAGES = {
    400: "The request is not valid.",
    401: "Authentication is required.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    500: "Something went wrong on our side. The error was logged.",
    503: "The service is unavailable; try again shortly.",
}


class ApiError(Exception):
    """`headers`: response headers (e.g. Retry-After); `extra`: more fields of the body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(message)
        self.status = status
        self.code = code or DEFAULT_CODES.get(status, "ERROR")
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JsonResponse:
    body = {
        "code": code or DEFAULT_CODES.get(status, "ERROR"),
        "statusCode": status,
        "message": message or DEFAULT_MESSAGES.get(status, "Request failed."),
        **extra,
    }
    return JsonResponse(body, status=status, headers=headers)


def api_error_response(error: ApiError) -> JsonResponse:
    return error_response(
        error.status, error.message, code=error.code, headers=error.headers, **error.extra
    )
