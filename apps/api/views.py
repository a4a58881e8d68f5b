from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from apps.api import execute
from apps.api.auth import authenticate
from apps.api.errors import ApiError, error_response
from apps.api.openapi import openapi_document
from apps.workflows.models import Workflow


@require_GET
def openapi(request):
    return JsonResponse(openapi_document())


@csrf_exempt
def workflow_endpoint(request, workflow_slug: str):
    """/api/v1/{workflow_slug}. POST runs the workflow. Any other method answers 405 (Allow:
    POST) only when the path names a workflow the caller's key can see; otherwise the path is
    an unknown one (GET /api/v1/nope) and answers 404 NOT_FOUND like every unknown path."""
    if request.method == "POST":
        return execute.execute(request, workflow_slug)
    try:
        auth = authenticate(request)
    except ApiError:
        auth = None
    if auth is not None and Workflow.objects.filter(space=auth.space, slug=workflow_slug).exists():
        response = error_response(405, "Run a workflow with POST.")
        response["Allow"] = "POST"
        return response
    return error_response(404, f"No such endpoint: {request.method} {request.path}.")
