"""The floor views: a bare JSON view and the "Celery V8 view"."""

from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from floors import TRIVIAL_FUNCTION
from floors.celery_app import noop, v8


def json_view(request):
    return JsonResponse({"ok": True})


@csrf_exempt
def celery_v8_view(request, queue: str):
    """Parse the same body as the console's execute endpoint, send the trivial function to the
    bare Celery task on `queue` (each floor worker variant consumes its own queue), wait for it
    with `.get()` and answer its JSON."""
    body = json.loads(request.body)
    pending = v8.apply_async(args=[TRIVIAL_FUNCTION, json.dumps(body["input"])], queue=queue)
    return HttpResponse(pending.get(timeout=30), content_type="application/json")


@csrf_exempt
def celery_enqueue_view(request, queue: str):
    """The floor of an accepted standard run ("Django view + Celery enqueue"): parse the same
    body, send a no-op task to `queue` and answer 202 with its id, as the console answers 202
    with the execution's."""
    json.loads(request.body)["input"]
    sent = noop.apply_async(queue=queue)
    return JsonResponse({"executionId": sent.id, "status": "pending"}, status=202)


urlpatterns = [
    path("json", json_view),
    path("v8/<slug:queue>", celery_v8_view),
    path("enqueue/<slug:queue>", celery_enqueue_view),
]
