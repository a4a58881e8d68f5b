from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from apps.api.openapi import openapi_document


@require_GET
def openapi(request):
    return JsonResponse(openapi_document())
