"""The webhook receiver and the event API (DESIGN.md §5, §6).

POST /api/v1/clients/{space_id}/webhooks/{webhook_id}
    202 {"eventId", "status": "accepted"} once the event is stored (routing happens after, in
    the `events` process); a repeat of an event within 24 h (same sender event id or
    deduplication key): 200 {"duplicate": true, "eventId": <the first>, "status": "duplicate"}.
    Refusals, all JSON {"code", "statusCode", "message"}:
    - 404 NOT_FOUND: no such webhook in that Space (a malformed id, another Space's webhook)
      or the trigger is disabled — the same answer, so ids cannot be probed;
    - 401 UNAUTHORIZED: the trigger wants an API key (x-fastn-key, x-fastn-access-key or
      x-fastn-api-key) and the request has none, or not a live key of the trigger's Space; or
      the trigger has a signing secret and the signature is missing, wrong or stale (the
      message says which, never the expected value);
    - 403 FORBIDDEN: a test API key, on a trigger with a route to an environment other than
      DRAFT and `test` (a test key reaches those only);
    - 413 PAYLOAD_TOO_LARGE over FASTN_MAX_BODY_BYTES; 400 for a broken chunked body.
    Any body is accepted: JSON is parsed (filters and ctx.input see it), anything else is kept
    raw and routable on `$headers.` filters. Every request to a known trigger, accepted or
    refused, is recorded in its request inspector (the last 50). An accepted event of an app
    event trigger that is not Subscribed yet makes it Subscribed (the provider sends there).

GET /api/v1/tenants/{space_id}/events/{event_id}
    The event, its status and the runs it started (API-key auth like the executions API)."""

from __future__ import annotations

import logging
import time

from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.api.auth import authenticate, header, mark_used
from apps.api.auth import live_api_key as find_live_api_key
from apps.api.errors import ApiError, api_error_response
from apps.api.jsonbody import read_body
from apps.secrets.services import SecretNotFound, secret_resolve
from apps.spaces.models import ApiKeyMode, Space
from apps.spaces.services import sha256_hex
from apps.triggers.models import Event, Kind, Source, Trigger, WebhookAuth
from apps.triggers.receive import (
    event_accept,
    event_accept_public,
    mark_subscribed,
    request_log,
)
from apps.triggers.selectors import (
    event_for_api,
    trigger_for_webhook,
    trigger_reachable_with_test_key,
)
from apps.triggers.signatures import SignatureError, verify
from fastn_console import rawsql

logger = logging.getLogger("fastn.api")
TRIGGER_KEY_HEADERS = ("x-fastn-key", "x-fastn-access-key", "x-fastn-api-key")
# The signature's timestamp may be this far from the server's clock, either way.
SIGNATURE_TOLERANCE_S = 300
NOT_FOUND = "No such webhook in this Space (unknown, or the trigger is disabled)."


@csrf_exempt
@require_POST
def webhook_receive(request, space_id: str, webhook_id: str):
    """1. read the body (413 over the limit); 2. the common cases — a public trigger or a
    valid API key, no signing secret, no event id — in one statement (event_accept_public);
    3. otherwise find the trigger, check its key and signature, and accept through
    event_accept (and a refusal is explained and recorded)."""
    try:
        body = read_body(request)
    except ApiError as refusal:
        trigger = trigger_for_webhook(space_id, webhook_id)
        if trigger is not None:
            request_log(trigger, refusal.status, refusal.message)
        raise
    headers = request_headers(request)
    content_type = request.META.get("CONTENT_TYPE", "")
    raw_key = header(request, *TRIGGER_KEY_HEADERS)
    event_id = event_accept_public(
        space_id, webhook_id, headers=headers, body=body, content_type=content_type,
        api_key_hash=sha256_hex(raw_key) if raw_key else "",
    )  # fmt: skip
    if event_id is not None:
        return accepted_response(event_id)
    trigger = trigger_for_webhook(space_id, webhook_id)
    if trigger is None:
        raise ApiError(404, NOT_FOUND)
    try:
        if not trigger.enabled:
            raise ApiError(404, NOT_FOUND)
        if trigger.auth == WebhookAuth.API_KEY:
            check_api_key(request, trigger)
        if trigger.signing_secret_name:
            check_signature(request, trigger, body)
    except ApiError as refusal:
        outcome = "Trigger disabled" if not trigger.enabled else refusal.message
        request_log(trigger, refusal.status, outcome)
        response = api_error_response(refusal)
        response._has_been_logged = True  # recorded in the inspector; not a server error
        return response
    accepted = event_accept(
        trigger,
        source=Source.APP_EVENT if trigger.kind == Kind.APP_EVENT else Source.WEBHOOK,
        headers=headers,
        body=body,
        content_type=content_type,
    )
    mark_subscribed(trigger)  # an app event's first delivery from the provider
    if accepted.duplicate:
        event_id = str(accepted.event.pk)
        return JsonResponse({"duplicate": True, "eventId": event_id, "status": "duplicate"})
    return accepted_response(accepted.event.pk)


def accepted_response(event_id) -> HttpResponse:
    """202 {"eventId", "status": "accepted"}, written directly (every webhook answers it)."""
    body = b'{"eventId": "%s", "status": "accepted"}' % str(event_id).encode()
    return HttpResponse(body, status=202, content_type="application/json")


def request_headers(request) -> dict[str, str]:
    """The request's headers, names lower-cased (what request.headers holds, built cheaper)."""
    meta = request.META
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in meta.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if meta.get(name):
            headers[name.replace("_", "-").lower()] = meta[name]
    return headers


def check_api_key(request, trigger: Trigger) -> None:
    """A live API key of the trigger's Space; a test key only for a trigger whose routes all
    target DRAFT or `test`."""
    raw = header(request, *TRIGGER_KEY_HEADERS)
    if not raw:
        raise ApiError(401, "This webhook requires an API key: send it in the x-fastn-key header.")
    api_key = find_live_api_key(sha256_hex(raw))
    if api_key is None or api_key.space_id != trigger.space_id:
        raise ApiError(401, "Invalid or revoked API key for this webhook.")
    if api_key.mode == ApiKeyMode.TEST and not trigger_reachable_with_test_key(trigger):
        raise ApiError(
            403,
            "A test API key reaches only triggers whose routes all target DRAFT or the test "
            "environment.",
        )
    mark_used(api_key)


def check_signature(request, trigger: Trigger, body: bytes) -> None:
    """The request is signed with the trigger's signing secret, or with the previous one
    during a rotation's grace period (SignatureError's message says what is wrong)."""
    names = [trigger.signing_secret_name]
    if (
        trigger.signing_previous_secret_name
        and trigger.signing_previous_until
        and trigger.signing_previous_until > timezone.now()
    ):
        names.append(trigger.signing_previous_secret_name)
    space = rawsql.reference(Space, trigger.space_id)
    secrets = []
    for name in names:
        try:
            secrets.append(secret_resolve(space, name=name)[1])
        except SecretNotFound:
            continue
    if not secrets:
        raise ApiError(
            401,
            f"The webhook's signing secret {trigger.signing_secret_name} is not defined in "
            "this Space: no signature can be verified.",
        )
    try:
        verify(request.headers, body, secrets, now=time.time(), tolerance_s=SIGNATURE_TOLERANCE_S)
    except SignatureError as exc:
        raise ApiError(401, f"Invalid signature: {exc.message}") from None


# --- the event API --------------------------------------------------------------------------


@require_GET
def event_detail(request, space_id: str, event_id: str):
    auth = authenticate(request, space_id=space_id)
    event = event_for_api(auth.space, event_id, customer=auth.customer)
    if event is None:
        raise ApiError(404, "No such event.")
    return JsonResponse(event_document(event))


def event_document(event: Event) -> dict:
    stamp = lambda value: value.isoformat() if value else None  # noqa: E731
    return {
        "eventId": str(event.id),
        "trigger": {"id": str(event.trigger_id) if event.trigger_id else None,
                    "name": event.trigger_name},
        "source": event.source,
        "status": event.status,
        "receivedAt": stamp(event.received_at),
        "routedAt": stamp(event.routed_at),
        "duplicateOf": str(event.duplicate_of_id) if event.duplicate_of_id else None,
        "error": event.error or None,
        "deliveries": [
            {
                "route": d.route_key,
                "workflow": d.workflow_name,
                "status": d.status,
                "attempts": d.attempts,
                "error": d.error or None,
                "nextAttemptAt": stamp(d.next_attempt_at),
                "executionId": str(d.execution.id) if d.execution else None,
                "executionStatus": d.execution.status if d.execution else None,
            }
            for d in event.delivery_list
        ],
    }  # fmt: skip
