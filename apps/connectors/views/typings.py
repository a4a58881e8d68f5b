"""The TypeScript declarations of the Space's connectors, fetched by the workflow editor for
Monaco's autocomplete (apps/connectors/typings.py). Answered with an ETag of the text and
`Cache-Control: no-cache`, so the browser keeps its copy and asks again each time the editor
loads: a 304 while the connectors are unchanged, the new text once one changes. Compressed
(its ETag then weak, which If-None-Match matches as well)."""

from __future__ import annotations

import hashlib

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from apps.connectors.typings import space_connector_typings
from apps.spaces.access import require
from apps.spaces.models import Capability


@require(Capability.VIEW)
@require_GET
@gzip_page  # the built-ins alone are some 370 KB of declarations; nothing secret in them
def connector_typings(request):
    text = space_connector_typings(request.space)
    etag = '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
    asked = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
    matched = next((tag for tag in asked if tag in (etag, f"W/{etag}")), None)
    if matched:
        response = HttpResponseNotModified()
        response["ETag"] = matched  # as the browser has it (weak once compressed)
        patch_vary_headers(response, ("Accept-Encoding",))
    else:
        response = HttpResponse(text, content_type="application/typescript; charset=utf-8")
        response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    return response
