"""`Idempotency-Key` on POST /api/v1/{slug}: a client may retry a request safely.

The first request with a key claims it (a row, unique per Space, API key and key) and its
response is stored; a repeat within 24 hours with the same request gets that response again
(status and body: a 202 names the same execution) without running anything. A repeat that asks
for something else (another body, workflow, stage or tenant) is refused with 422
IDEMPOTENCY_KEY_REUSED. A repeat that arrives while the first is still being answered waits for
it, up to `WAIT_S`, then gets 409 IDEMPOTENCY_KEY_IN_PROGRESS.

A refused request (503: the queue was down and the run will never happen) releases its key, so
retrying with the same key runs it then. So does an error raised while answering. A request
whose process died while answering leaves its claim; after `ABANDONED_AFTER` (longer than any
instant run can keep a caller waiting) a repeat takes the key over.

Requests without the header cost nothing here: no query."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from apps.api.errors import ApiError
from apps.api.models import IdempotencyKey, IdempotencyStatus

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
TTL = timedelta(hours=24)
WAIT_S = 10.0
POLL_S = 0.05
# Longer than an instant run can keep its caller waiting (2 min timeout + the queue's grace).
ABANDONED_AFTER = timedelta(minutes=5)
# Answers that mean "nothing ran and nothing will": the key is released for a retry.
RELEASING_STATUSES = frozenset({503})


def idempotency_key(request) -> str | None:
    """The request's key; None without the header; 400 when it is empty or too long."""
    if HEADER not in request.headers:
        return None
    key = request.headers[HEADER].strip()
    if not 1 <= len(key) <= MAX_LENGTH:
        raise ApiError(400, f"The {HEADER} header must be 1 to {MAX_LENGTH} characters long.")
    return key


def request_hash(**request: Any) -> str:
    """SHA-256 of the request's meaning as canonical JSON (key order and spacing ignored)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_begin(auth, key: str, digest: str) -> IdempotencyKey | HttpResponse:
    """Claim `key` for this request (answers the claim: run the request, then
    `idempotency_finish`), or answer the first request's stored response. Raises ApiError
    422 (another request used the key) or 409 (the first is still running after WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    rows = IdempotencyKey.objects.filter(space=auth.space, api_key=auth.api_key, key=key)
    while True:
        row = IdempotencyKey(space=auth.space, api_key=auth.api_key, key=key, request_hash=digest)
        try:
            with transaction.atomic():
                row.save(force_insert=True)
            return row
        except IntegrityError:
            pass
        existing = rows.first()
        if existing is None and time.monotonic() < deadline:
            continue  # released or purged since: claim it again
        if existing is None:
            raise ApiError(
                409,
                f"The {HEADER} could not be claimed. Retry shortly.",
                code="IDEMPOTENCY_KEY_IN_PROGRESS",
                headers={"Retry-After": "1"},
            )
        now = timezone.now()
        if existing.created_at < now - TTL or (
            existing.status == IdempotencyStatus.IN_PROGRESS
            and existing.created_at < now - ABANDONED_AFTER
        ):
            # Conditional: of two repeats taking over the same stale key, one deletes it.
            rows.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.request_hash != digest:
            raise ApiError(
                422,
                f"The {HEADER} was already used for a different request (another body, "
                "workflow, stage or tenant). Use a new key for a new request.",
                code="IDEMPOTENCY_KEY_REUSED",
            )
        if existing.status == IdempotencyStatus.COMPLETED:
            return replay(existing)
        if time.monotonic() >= deadline:
            raise ApiError(
                409,
                f"A request with this {HEADER} is still being processed. Retry shortly.",
                code="IDEMPOTENCY_KEY_IN_PROGRESS",
                headers={"Retry-After": "1"},
            )
        time.sleep(POLL_S)


def idempotency_finish(claim: IdempotencyKey, response: HttpResponse) -> None:
    """Store the response for the repeats, or release the key when nothing ran."""
    rows = IdempotencyKey.objects.filter(pk=claim.pk)
    if response.status_code in RELEASING_STATUSES:
        rows.delete()
        return
    rows.update(
        status=IdempotencyStatus.COMPLETED,
        response_status=response.status_code,
        response_body=response.content.decode(),
    )


def idempotency_release(claim: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=claim.pk).delete()


def replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        row.response_body, status=row.response_status, content_type="application/json"
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotency_purge_expired(*, batch_size: int = 5000) -> int:
    """Delete keys older than 24 hours, in batches (the beat task api.purge_idempotency_keys)."""
    cutoff = timezone.now() - TTL
    total = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return total
        IdempotencyKey.objects.filter(pk__in=ids).delete()
        total += len(ids)
