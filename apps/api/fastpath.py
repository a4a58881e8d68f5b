"""The machine endpoints' short path through the middleware.

A workflow run (POST /api/v1/{workflow_slug}) and a webhook delivery (POST
/api/v1/clients/{space}/webhooks/{id}) come from machines with an API key or a signature, never
from a browser: sessions, authentication, CSRF, messages, CSP, htmx, allauth and the current
Space do not apply to them, and together they cost more CPU than accepting the run (make bench
measures both endpoints against a bare Django JSON view). This middleware sits right after
SecurityMiddleware and WhiteNoise, answers those two requests itself and lets everything else
go the usual way. Errors are answered in the API's JSON, as ApiErrorMiddleware would."""

from __future__ import annotations

import functools
import logging
import re

from django.core.exceptions import RequestDataTooBig
from django.urls import reverse

from apps.api import execute
from apps.api.errors import ApiError, api_error_response, error_response
from apps.api.webhooks import webhook_receive

logger = logging.getLogger("fastn.api")


@functools.cache
def machine_routes() -> tuple[tuple[re.Pattern, object], ...]:
    """(pattern, view) for each fast endpoint, the patterns built from the URLconf (which stays
    the one place that defines the URLs): cheaper than resolving against every console URL."""
    receiver = reverse("api_webhook_receive", kwargs={"space_id": "SPACE", "webhook_id": "HOOK"})
    receiver = re.escape(receiver).replace("SPACE", "(?P<space_id>[^/]+)", 1)
    receiver = receiver.replace("HOOK", "(?P<webhook_id>[^/]+)", 1)
    run = re.escape(reverse("api_execute", kwargs={"workflow_slug": "SLUG"}))
    run = run.replace("SLUG", "(?P<workflow_slug>[-a-zA-Z0-9_]+)", 1)
    return (
        (re.compile(receiver), webhook_receive),
        (re.compile(run), execute.execute),
    )


class MachineApiFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = reverse("api_execute", kwargs={"workflow_slug": "x"})[:-1]

    def __call__(self, request):
        if request.method != "POST" or not request.path_info.startswith(self.prefix):
            return self.get_response(request)
        for pattern, view in machine_routes():
            match = pattern.fullmatch(request.path_info)
            if match is not None:
                return self.answer(request, view, match.groupdict())
        return self.get_response(request)

    def answer(self, request, view, kwargs):
        try:
            return view(request, **kwargs)
        except ApiError as exc:
            return api_error_response(exc)
        except RequestDataTooBig:
            return error_response(413)
        except Exception:
            logger.exception("Unhandled API error on %s %s", request.method, request.path)
            return error_response(500)
