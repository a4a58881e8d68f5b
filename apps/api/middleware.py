"""Under /api/ every answer is JSON: no HTML error page and no stack trace ever leaves."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404

from apps.api.errors import ApiError, api_error_response, error_response

logger = logging.getLogger("fastn.api")


def is_api(request) -> bool:
    return request.path.startswith("/api/")


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400:
            content_type = response.get("Content-Type", "")
            if not content_type.startswith("application/json"):
                converted = error_response(response.status_code)
                if response.has_header("Allow"):  # a 405 says which methods the path takes
                    converted["Allow"] = response["Allow"]
                return converted
        return response

    def process_exception(self, request, exception):
        if not is_api(request):
            return None
        if isinstance(exception, ApiError):
            return api_error_response(exception)
        if isinstance(exception, Http404):
            return error_response(404)
        if isinstance(exception, PermissionDenied):
            return error_response(403)
        if isinstance(exception, RequestDataTooBig):
            return error_response(413)
        logger.exception("Unhandled API error on %s %s", request.method, request.path)
        return error_response(500)
